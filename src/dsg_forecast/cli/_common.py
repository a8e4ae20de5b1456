"""What every command shares: exit codes and argument types."""

from __future__ import annotations

import argparse
import re
from collections.abc import Callable
from decimal import Decimal, InvalidOperation
from typing import Final

#: Exit code of a problem with the input (printed on one screen, no traceback).
EXIT_INPUT: Final = 2
#: Exit status when the reader of the output closed it early (``| head``), as a shell's 128 +
#: SIGPIPE.
EXIT_BROKEN_PIPE: Final = 141
#: Exit code when the system refused a read or write the command needed (a full disk, a
#: folder it may not write), where no more particular message says so.
EXIT_SYSTEM: Final = 1
#: Exit status of a command stopped by Ctrl-C (SIGINT), as a shell's 128 + SIGINT.
EXIT_INTERRUPTED: Final = 130
#: Exit status of a command stopped by SIGTERM (``kill``, a batch system's time limit), as a
#: shell's 128 + SIGTERM.
EXIT_TERMINATED: Final = 143


class Stopped(KeyboardInterrupt):
    """A command stopped by a signal other than Ctrl-C (SIGTERM).

    Raised where the command is, so it ends as Ctrl-C ends it (what it kept said, no
    traceback), with the signal's status.
    """

    how = "terminated, SIGTERM"
    status = EXIT_TERMINATED


def how_stopped(exc: KeyboardInterrupt) -> tuple[str, int]:
    """Return how a command was stopped, as its message says it, and its exit status."""
    if isinstance(exc, Stopped):
        return exc.how, exc.status
    return "Ctrl-C", EXIT_INTERRUPTED


def named(what: str) -> Callable[[str], str]:
    """Return an argparse type: any text but an empty one (``--out ""`` is not "no output").

    ``-`` is refused too: to a shell user it is standard output (or input), and it had
    made a folder named ``-`` (``run --out -``).

    ``what`` says what to give instead, for example ``"a file name"``.
    """

    def parse(text: str) -> str:
        if not text.strip():
            blank = "is empty" if not text else "is only spaces"
            msg = f"{text!r} {blank}; give {what}"
            raise argparse.ArgumentTypeError(msg)
        if text == "-":  # a shell user's standard output (or input); it made a folder "-"
            msg = (
                "'-' (a shell's standard input or output) is not read or written here; give "
                f"{what} (./- for one named '-')"
            )
            raise argparse.ArgumentTypeError(msg)
        return text

    return parse


#: A file or folder name given on the command line: an empty one is refused, not ignored.
file_name = named("a file name")


def whole_number_text(text: str) -> int:
    """Return the whole number a command-line value writes, in digits or powers of ten.

    ``1000000``, ``1_000_000`` and ``1e6`` are the same number (an analyst's ``--samples
    1e6`` is exact, not approximate); ``2.5``, ``1e-3`` and ``nan`` are not whole, and
    ``1,000`` is refused with the number to write instead (a comma is a decimal point in
    some countries' writing, so ``1,5`` is refused as not whole).

    Parameters
    ----------
    text
        The value as given.

    Returns
    -------
    int
        The number.

    Raises
    ------
    argparse.ArgumentTypeError
        If ``text`` does not write a whole number.
    """
    try:
        return int(text)
    except ValueError:
        pass
    if re.fullmatch(r"\s*\d{1,3}(,\d{3})+\s*", text):  # thousands marked: 1,000,000
        digits = text.replace(",", "").strip()
        msg = f"{text!r} marks thousands with commas; write the number without them ({digits})"
        raise argparse.ArgumentTypeError(msg)
    try:
        number = Decimal(text.strip())
    except InvalidOperation:
        number = Decimal("NaN")
    if not number.is_finite() or number != number.to_integral_value():
        msg = f"{text!r} is not a whole number"
        raise argparse.ArgumentTypeError(msg)
    if number.adjusted() > 30:  # 1e400000000 would take seconds to write out in digits
        msg = f"{text!r} is larger than any count this tool takes"
        raise argparse.ArgumentTypeError(msg)
    return int(number)


def at_least(minimum: int, maximum: int | None = None, why: str = "") -> Callable[[str], int]:
    """Return an argparse type: a whole number from ``minimum`` (to ``maximum``), else an error.

    ``why`` ends the message of a number above ``maximum`` (what sets the limit).
    """

    def parse(text: str) -> int:
        value = whole_number_text(text)
        if value < minimum:
            msg = f"{value} is below {minimum}; it must be at least {minimum}"
            raise argparse.ArgumentTypeError(msg)
        if maximum is not None and value > maximum:
            msg = f"{value} is above {maximum}; it must be at most {maximum}{why}"
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


def share(text: str) -> float:
    """Parse a share strictly between 0 and 1 (an argparse type)."""
    try:
        value = float(text)
    except ValueError:
        msg = f"{text!r} is not a number"
        raise argparse.ArgumentTypeError(msg) from None
    if not 0 < value < 1:
        msg = f"{value} must be between 0 and 1 (for example 0.8 for 80%)"
        raise argparse.ArgumentTypeError(msg)
    return value


def year_span(text: str) -> range:
    """Parse ``FIRST-LAST`` (or one year) into the years from FIRST to LAST (an argparse type)."""
    first, _, last = text.partition("-")
    try:
        start, end = int(first), int(last or first)
    except ValueError:
        msg = f"{text!r} is not a year or FIRST-LAST, for example 2017-2024"
        raise argparse.ArgumentTypeError(msg) from None
    if end < start:
        msg = f"{text!r} runs backwards; write the first year first, for example {end}-{start}"
        raise argparse.ArgumentTypeError(msg)
    return range(start, end + 1)


def check_year(year: str | None, years: tuple[str, ...] | list[str], option: str) -> None:
    """Refuse a financial year outside the projection, naming the option and the span.

    Parameters
    ----------
    year
        The year given (``None``: none given, nothing to check).
    years
        The projection's financial years.
    option
        The option's name, for the message.

    Raises
    ------
    OutputError
        If the year is not one of ``years``.
    """
    if year is not None and year not in years:
        from dsg_forecast.errors import OutputError
        from dsg_forecast.periods import parse_fy

        try:
            parse_fy(year)
        except ValueError:  # not a financial year at all (2025, 2025/26)
            msg = f"{option} {year} is not a financial year; write it as YYYY-YY, like {years[0]}"
            raise OutputError(msg) from None
        msg = f"{option} {year} is outside the projection ({years[0]}..{years[-1]})"
        raise OutputError(msg)
