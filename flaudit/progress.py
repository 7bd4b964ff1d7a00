"""A progress line on stderr for scans long enough to wonder about: what flaudit is doing and for how long.

Shown only when stderr is a TTY, ``--quiet`` is not given and the scan has run for :data:`DELAY` seconds, so a
quick scan, a pipe, a CI log or a script never sees it; it is transient (rich erases it when the scan ends). A
phase that shows its own display (live collection's progress bar) is run with ``own_display=True``, which takes
this line down until the next phase: rich allows one live display at a time.
"""

from __future__ import annotations

import sys
import threading
from typing import Any

#: Seconds a scan runs before the line appears.
DELAY = 1.0


class ScanProgress:
    def __init__(self, enabled: bool, *, delay: float = DELAY, stream: Any = None):
        self.stream = stream if stream is not None else sys.stderr
        self.enabled = enabled and bool(getattr(self.stream, "isatty", lambda: False)())
        self.delay = delay
        self._lock = threading.Lock()
        self._text = "starting"
        self._hidden = False  # a phase with its own display is running
        self._stopped = False
        self._bar: Any = None
        self._task: Any = None
        self._timer: threading.Timer | None = None

    def __enter__(self) -> ScanProgress:
        if self.enabled:
            self._timer = threading.Timer(self.delay, self._show)
            self._timer.daemon = True
            self._timer.start()
        return self

    def __exit__(self, *_: Any) -> None:
        self.stop()

    @property
    def shown(self) -> bool:
        return self._bar is not None

    def phase(self, text: str, *, own_display: bool = False) -> None:
        """Say what the scan does now (``loading 12,022 resources``, ``writing json``)."""
        with self._lock:
            self._text = text
            self._hidden = own_display
            if own_display:
                self._take_down()
            elif self._bar is not None:
                self._bar.update(self._task, description=text)
        if not own_display and self.enabled and not self._stopped and self._bar is None and self._timer is None:
            self._show()  # the delay passed during a phase with its own display

    def stop(self) -> None:
        """Take the line down for good (before the terminal report is printed, and at the end)."""
        with self._lock:
            self._stopped = True
            if self._timer is not None:
                self._timer.cancel()
            self._take_down()

    def _show(self) -> None:
        from rich.console import Console
        from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

        with self._lock:
            self._timer = None
            if self._stopped or self._hidden or self._bar is not None:
                return
            self._bar = Progress(SpinnerColumn(), TextColumn("flaudit: {task.description}"), TimeElapsedColumn(),
                                 console=Console(file=self.stream), transient=True)
            self._task = self._bar.add_task(self._text, total=None)
            self._bar.start()

    def _take_down(self) -> None:
        if self._bar is not None:
            self._bar.stop()
            self._bar = None
