"""What ``/proc/PID/fd/N`` says of a pipe or a socket: ``pipe:[1234]``, ``socket:[5678]``.

Its own module, with no imports: the watchdog reads these at every poll, from its first one.
"""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Optional


def bracketed_inode(target: str, prefix: str) -> Optional[int]:
    """N from ``prefix:[N]`` (what /proc/PID/fd/FD says of a pipe or socket), else None."""
    if target.startswith(prefix + ":[") and target.endswith("]"):
        try:
            return int(target[len(prefix) + 2:-1])
        except ValueError:
            return None
    return None


def channel_inode(target: str) -> Optional[int]:
    """The inode of ``pipe:[N]`` or ``socket:[N]``; ``None`` for anything else."""
    inode = bracketed_inode(target, "pipe")
    return inode if inode is not None else bracketed_inode(target, "socket")


def pipe_inode(target: str) -> Optional[int]:
    """The inode of ``pipe:[1234]``; ``None`` for anything else."""
    return bracketed_inode(target, "pipe")


def socket_inode(target: str) -> Optional[int]:
    """The inode of ``socket:[1234]``; ``None`` for anything else."""
    return bracketed_inode(target, "socket")
