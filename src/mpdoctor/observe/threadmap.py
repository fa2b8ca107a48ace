"""A function over many items in a few threads (py-spy dumps, fd tables of a big tree).

``threading`` alone, which the watch has loaded anyway: ``concurrent.futures`` would bring in
``logging``, ``queue`` and more on the path to every verdict.
"""

from __future__ import annotations

import threading
from typing import Callable, Iterator, List, Optional, Sequence, Tuple, TypeVar

T = TypeVar("T")
R = TypeVar("R")


def run(func: Callable[[T], R], items: Sequence[T], workers: int,
        meanwhile: Optional[Callable[[], None]] = None) -> List[R]:
    """``[func(x) for x in items]``, computed in up to ``workers`` threads; ``meanwhile`` runs
    in the calling thread while they work.  An exception of ``func`` is raised here (the
    first item's that failed), once every thread has finished.  RuntimeError, before anything
    was computed, when not even one thread can be started (a process limit is reached): the
    caller may then do the work itself."""
    if not items:
        if meanwhile is not None:
            meanwhile()
        return []
    results: List[Optional[Tuple[bool, object]]] = [None] * len(items)
    lock = threading.Lock()
    todo: Iterator[int] = iter(range(len(items)))

    def work() -> None:
        while True:
            with lock:
                i = next(todo, None)
            if i is None:
                return
            try:
                results[i] = (True, func(items[i]))
            except BaseException as exc:  # noqa: BLE001 - raised in the caller's thread
                results[i] = (False, exc)

    threads: List[threading.Thread] = []
    for _ in range(max(1, min(workers, len(items)))):
        t = threading.Thread(target=work, name="mpdoctor-worker", daemon=True)
        try:
            t.start()
        except RuntimeError:
            if not threads:
                raise
            break  # the threads already started do all the work
        threads.append(t)
    try:
        if meanwhile is not None:
            meanwhile()
    finally:
        for t in threads:
            t.join()
    out: List[R] = []
    for slot in results:
        assert slot is not None  # every slot is filled once the threads are joined
        ok, value = slot
        if not ok:
            raise value  # type: ignore[misc]
        out.append(value)  # type: ignore[arg-type]
    return out
