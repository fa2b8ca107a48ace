"""Code that runs inside the user's processes.

Standard library only, Python >= 3.8, and nothing here may change what the program does: every
hook calls the original, swallows its own errors, never blocks (events that cannot be sent are
dropped and counted), and is installed at most once per process.

Activation: ``MPDOCTOR_HOOKS`` in the environment (set by ``mpdoctor check``) and either the
``mpdoctor_hooks.pth`` file shipped in the wheel (any interpreter using mpdoctor's
site-packages) or the "stowaway" that rides along with multiprocessing's spawn preparation data.
"""
