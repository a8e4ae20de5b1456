"""What every command shares: exit codes and argument types."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Final

#: Exit code of a problem with the input (printed on one screen, no traceback).
EXIT_INPUT: Final = 2


def at_least(minimum: int) -> Callable[[str], int]:
    """Return an argparse type: a whole number no smaller than ``minimum``, else an error."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            msg = f"{text!r} is not a whole number"
            raise argparse.ArgumentTypeError(msg) from None
        if value < minimum:
            msg = f"{value} is below {minimum}; it must be at least {minimum}"
            raise argparse.ArgumentTypeError(msg)
        return value

    return parse
