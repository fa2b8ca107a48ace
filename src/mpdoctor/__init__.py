"""mpdoctor: find out why a multiprocessing program hangs, prove it, and say how to fix it."""

__version__ = "0.1.0"
