"""Signals: a worker process leaves them to the command, which handles them for a while."""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Callable, Iterator
from typing import Any


def leave_signals_to_parent() -> None:
    """In a worker process, leave Ctrl-C and SIGTERM to the process that started it.

    A terminal's Ctrl-C and a batch system's SIGTERM reach every process of a command. A
    forked worker inherits the command's handlers, so each raised in the middle of its work
    and printed a traceback beside the command's own message: the worker ignores Ctrl-C,
    and SIGTERM (which also ends a pool's workers when it closes) ends it quietly. The
    command stops its workers itself.
    """
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)


@contextlib.contextmanager
def signal_handled(signum: int, handler: Callable[[int, Any], Any] | int) -> Iterator[None]:
    """Handle ``signum`` with ``handler`` inside the block; put back the handler before.

    Only the main thread may set a handler, and one set outside Python could not be put
    back: in either case the signal keeps its own.

    Parameters
    ----------
    signum
        The signal (``signal.SIGINT``, ``signal.SIGTERM``).
    handler
        A function of (signal, frame), or ``signal.SIG_IGN`` or ``signal.SIG_DFL``.

    Yields
    ------
    None
        Inside the block the signal is handled by ``handler``.
    """
    main = threading.current_thread() is threading.main_thread()
    if not main or signal.getsignal(signum) is None:
        yield
        return
    previous = signal.signal(signum, handler)
    try:
        yield
    finally:
        signal.signal(signum, previous)
