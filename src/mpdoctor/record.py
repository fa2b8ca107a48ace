"""``Record``: ``typing.NamedTuple``'s class syntax without importing ``typing``.

``typing`` costs more to import than everything else mpdoctor loads while a short script runs,
and the process-tree readers (``observe/procfs.py``) are loaded then.  A type checker sees
``typing.NamedTuple`` itself (``if TYPE_CHECKING: from typing import NamedTuple as Record``);
at run time this builds the same ``collections.namedtuple`` class: the fields from the class's
annotations, in order, with the defaults given, and the methods and docstring of its body.
The modules that use it have ``from __future__ import annotations``: annotations stay strings.
"""

from __future__ import annotations

import collections

#: what a class body always holds, never copied onto the record
_BODY = ("__annotations__", "__module__", "__qualname__", "__dict__", "__weakref__")


class _RecordMeta(type):
    def __new__(mcls, name, bases, namespace):  # noqa: N804 - a metaclass's first argument
        if not bases:  # Record itself
            return super().__new__(mcls, name, bases, namespace)
        fields = list(namespace.get("__annotations__", {}))
        defaults = [namespace[f] for f in fields if f in namespace]
        with_default = [f in namespace for f in fields]
        if with_default != sorted(with_default):
            raise TypeError(f"{name}: a field without a default follows one with a default")
        cls = collections.namedtuple(name, fields, defaults=defaults,
                                     module=namespace.get("__module__"))
        cls.__qualname__ = namespace.get("__qualname__", name)
        for key, value in namespace.items():
            if key not in fields and key not in _BODY:
                setattr(cls, key, value)
        return cls


class Record(metaclass=_RecordMeta):
    """Subclass it as ``typing.NamedTuple``: ``class Stat(Record): pid: int; state: str``."""
