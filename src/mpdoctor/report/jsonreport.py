"""The machine-readable report (``--json PATH``); its schema is documented in docs/json.md."""

from __future__ import annotations

import json
from typing import Any, Dict

from mpdoctor import __version__, explain
from mpdoctor.model import SCHEMA, dump
from mpdoctor.report import Report, signal_name


def to_dict(report: Report) -> Dict[str, Any]:
    diag = report.diagnosis
    stuck = set(diag.stuck) if diag else set()
    processes = []
    if report.snapshot is not None:
        for p in report.snapshot.processes:
            d = dump(p)
            for t, td in zip(p.threads, d["threads"]):
                td["stuck"] = (p.pid, t.tid) in stuck
            processes.append(d)
    status = report.status
    return {
        "schema": SCHEMA,
        "tool": {"name": "mpdoctor", "version": __version__},
        "verdict": report.verdict,
        "exit_code": report.exit_code,
        "script": {
            "command": list(report.command),
            "status": status,
            "signal": signal_name(-status) if status is not None and status < 0 else None,
        },
        "duration": round(report.duration, 3),
        "proof_seconds": round(report.proof_seconds, 3),
        "timeout": report.timeout,
        "findings": [{**dump(f), **explain.refs(f)} for f in report.findings],
        "chain": [dump(link) for link in (diag.chain if diag else ())],
        "processes": processes,
        "pipes": [dump(p) for p in report.snapshot.pipes] if report.snapshot else [],
        "notes": list(report.notes) + (list(report.snapshot.notes) if report.snapshot else []),
        "stopped": report.stopped,
        "events": dump(report.events) if report.events is not None else None,
    }


def render(report: Report, compact: bool = False) -> str:
    """The JSON text; ``compact``: on one line (to end a stream others write to as well)."""
    if compact:
        return json.dumps(to_dict(report), separators=(",", ":")) + "\n"
    return json.dumps(to_dict(report), indent=2) + "\n"
