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


def text_table(header: list[str], rows: list[list[str]], left: int = 1) -> list[str]:
    """Return rows as aligned text lines: the first ``left`` columns left, the rest right.

    Parameters
    ----------
    header
        The column headings.
    rows
        The cells, already formatted.
    left
        How many leading columns are text (aligned left).

    Returns
    -------
    list[str]
        The header, a rule and the rows.
    """
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    out = []
    for number, cells in enumerate([header, *rows]):
        out.append(
            "  ".join(
                c.ljust(w) if i < left else c.rjust(w)
                for i, (c, w) in enumerate(zip(cells, widths, strict=True))
            ).rstrip()
        )
        if number == 0:
            out.append("  ".join("-" * w for w in widths))
    return out
