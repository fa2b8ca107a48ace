"""What the plugin object of a session holds, declared once for the modules that make it up
(each concern is a mixin of ``_session.Plugin`` and reads this state)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable, Optional, Set, Tuple

if TYPE_CHECKING:
    import pytest

    from mpdoctor.observe.pyspy import Dumper
    from mpdoctor.pytest_settings import Settings
    from mpdoctor.run.events import Receiver


class State:
    config: "pytest.Config"
    settings: "Settings"
    #: the test being watched (``_session._Test``), if any
    current: Optional[Any]
    counts: Any  # _summary._Counts
    #: processes started by fixtures wider than a function: theirs to stop, not the test's
    fixture_owned: Set[Tuple[int, int]]
    _timeout_original: Optional[Callable]
    untrack_faulthandler: Callable[[], None]
    _wrapped: bool
    _dumper: "Dumper"
    session_pipes: Set[int]
    receiver: Optional["Receiver"]
