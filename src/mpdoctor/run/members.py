"""Who belongs to the watched tree, asked by pid: the check behind "only the watched tree is
heard" (``mpdoctor.run.events``).

A process belongs when the chain of its parents reaches the anchor: mpdoctor itself under
``mpdoctor check`` (every process below the script, and every orphan re-parented to mpdoctor as
child subreaper; not mpdoctor's own helpers), pytest's process under the plugin (that process
itself and everything below it).  The answer for each process is remembered with its start
time, so that

* a process that has exited (and was reaped) is still recognised if it was seen before, or
  if a process of the tree vouched for it (``vouch``: its parent, right after starting it);
* a pid reused by a later process is judged afresh;
* a busy sender costs one read of ``/proc/PID/stat`` per event.
"""

from __future__ import annotations


from mpdoctor.observe import procfs

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Callable, Collection, Dict, List, Optional, Tuple

#: the most processes remembered; beyond it, what is known about outsiders is forgotten first
MAX_KNOWN = 1 << 16
#: the deepest chain of parents followed (a deeper one is judged outside)
MAX_DEPTH = 512


class Membership:
    """``membership(pid)``: True when ``pid`` is a process of the tree, False when it is not,
    None when it cannot be told (it exited and was reaped before it was ever seen)."""

    def __init__(self, anchor: int, include_anchor: bool,
                 exclude: Callable[[], Collection[int]] = frozenset) -> None:
        self.anchor = anchor
        self.include_anchor = include_anchor
        #: children of the anchor that are not part of the tree (mpdoctor's own helpers)
        self.exclude = exclude
        self._known: Dict[int, Tuple[int, bool]] = {}  # pid -> (start time, member)

    def __call__(self, pid: int) -> Optional[bool]:
        for _ in range(3):  # a parent that exits during the walk re-parents its children
            found = self._walk(pid)
            if found is not _RETRY:
                return found  # type: ignore[return-value]
        return None

    def vouch(self, pid: int) -> None:
        """A process of the tree says it has just started ``pid``: remember it as a member
        (with its start time if it is still there, so that a later reuse of the pid is judged
        afresh)."""
        st = procfs.stat(pid)
        self._remember(pid, st.starttime if st is not None else -1, True)

    def _walk(self, pid: int) -> object:
        chain: List[Tuple[int, int]] = []  # (pid, start time), the sender first
        p = pid
        result: Optional[bool] = False
        for _ in range(MAX_DEPTH):
            if p == self.anchor:
                if not chain:
                    result = self.include_anchor
                else:
                    result = chain[-1][0] not in self.exclude()
                break
            if p <= 1:
                break  # init (or a parent in another pid namespace): outside
            st = procfs.stat(p)
            known = self._known.get(p)
            if st is None:
                if known is not None:
                    result = known[1]  # exited: it was what it was
                elif chain:
                    return _RETRY  # the parent just exited: read the sender's new parent
                else:
                    return None
                break
            if known is not None and known[0] == st.starttime:
                result = known[1]
                break
            chain.append((p, st.starttime))
            p = st.ppid
        for q, start in chain:
            self._remember(q, start, bool(result))
        return result

    def _remember(self, pid: int, start: int, member: bool) -> None:
        if len(self._known) >= MAX_KNOWN:
            self._known = {p: v for p, v in self._known.items() if v[1]}
            if len(self._known) >= MAX_KNOWN:
                self._known.clear()
        self._known[pid] = (start, member)


_RETRY = object()
