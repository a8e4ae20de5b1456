"""What a worker process of the library sets up: signals left to the command that started it."""

from __future__ import annotations

import signal


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
