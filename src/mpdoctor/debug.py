"""``MPDOCTOR_DEBUG``: the trace of what mpdoctor does, with topics (see
``mpdoctor.hooks.debuglog``, the one implementation, shared with the hooks)."""

from __future__ import annotations

from mpdoctor.hooks.debuglog import ENABLED, TOPICS, log, on

__all__ = ["ENABLED", "TOPICS", "log", "on"]
