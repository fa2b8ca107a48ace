"""A test's report after a verdict: its one-line message and its long representation are the
diagnosis; the HTML page for it."""

from __future__ import annotations

from typing import Optional

import pytest

from mpdoctor import pytest_settings
from mpdoctor.report import pytestreport
from mpdoctor.run.inprocess import Reached as Verdict
from mpdoctor.pytest_plugin._interrupt import MpdoctorInterrupt
from mpdoctor.pytest_plugin._state import State


class Failures(State):
    @staticmethod
    def _fail(report: pytest.TestReport, call: pytest.CallInfo, verdict: Verdict,
              timeout: Optional[float]) -> None:
        from _pytest._code.code import (ReprExceptionInfo, ReprFileLocation,
                                        ReprTracebackNative)

        lines = pytestreport.verdict_lines(verdict, timeout)
        where = pytestreport.location(verdict)
        path, lineno = where if where is not None else (report.location[0],
                                                        (report.location[1] or 0) + 1)
        longrepr = ReprExceptionInfo(
            reprtraceback=ReprTracebackNative([line + "\n" for line in lines]),
            reprcrash=ReprFileLocation(path, lineno,
                                       pytestreport.message(verdict, timeout)))
        own = call.excinfo is not None and not isinstance(call.excinfo.value, MpdoctorInterrupt)
        if report.failed and report.longrepr is not None and own:
            # the phase failed with an exception of its own (raised while unwinding from the
            # interrupt, or before it): keep it
            longrepr.addsection("the test's own failure", str(report.longrepr))
        report.outcome = "failed"
        report.longrepr = longrepr

    def _html(self, item: pytest.Item, verdict: Verdict, timeout: Optional[float],
              report: pytest.TestReport) -> Optional[str]:
        """With ``--mpdoctor-html DIR``: the test's page, named in its failure report."""
        directory = pytest_settings.html_dir(self.config)
        if directory is None:
            return None
        from _pytest._code.code import ReprExceptionInfo

        from mpdoctor.report import html
        try:
            path = html.write_for_test(directory, item.nodeid, verdict, timeout)
        except OSError as err:
            item.warn(pytest.PytestWarning(f"mpdoctor: could not write the HTML report into "
                                           f"{directory}: {err}"))
            return None
        if isinstance(report.longrepr, ReprExceptionInfo):
            report.longrepr.addsection("mpdoctor: HTML report", path)
        return path

