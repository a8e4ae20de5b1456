"""A one-line progress report with an ETA, written to stderr."""

from __future__ import annotations

import sys
import time
from typing import TextIO


class Progress:
    """Reports scenarios done, rate and time left on one line of a stream.

    Writes to ``stream`` (stderr by default) at most once every ``every`` seconds; for
    silence, pass no Progress at all.
    """

    def __init__(self, stream: TextIO | None = None, every: float = 0.5) -> None:
        self.stream = stream if stream is not None else sys.stderr
        self.every = every
        self.total = 0
        self.done = 0
        self.skipped = 0
        self.started = 0.0
        self.last = 0.0

    def start(self, total: int, already: int = 0) -> None:
        """Begin; ``already`` scenarios were done by an earlier (resumed) run.

        Parameters
        ----------
        total
            Scenarios in the sweep.
        already
            Scenarios finished before (by an earlier, resumed run).
        """
        self.total = total
        self.done = already
        self.skipped = already
        self.started = self.last = time.perf_counter()
        self._show(force=True)

    def advance(self, count: int) -> None:
        """Record ``count`` more scenarios done.

        Parameters
        ----------
        count
            Scenarios just finished.
        """
        self.done += count
        self._show()

    def finish(self) -> None:
        """Print the final line."""
        self._show(force=True)
        self.stream.write("\n")
        self.stream.flush()

    def stop(self) -> None:
        """End the line where it stands (a sweep that stopped), if anything was shown."""
        if self.started:
            self.stream.write("\n")
            self.stream.flush()

    def _show(self, *, force: bool = False) -> None:
        now = time.perf_counter()
        if not force and now - self.last < self.every:
            return
        self.last = now
        elapsed = now - self.started
        ran = self.done - self.skipped
        rate = ran / elapsed if elapsed > 0 and ran else 0.0
        left = (self.total - self.done) / rate if rate else float("nan")
        share = self.done / self.total if self.total else 1.0
        bar = "#" * int(share * 20)
        eta = f"ETA {left:,.0f} s" if left == left else "ETA -"
        self.stream.write(
            f"\r[{bar:<20}] {share:6.1%} {self.done:,}/{self.total:,} scenarios  "
            f"{elapsed:,.1f} s  {rate:,.0f}/s  {eta}   "
        )
        self.stream.flush()
