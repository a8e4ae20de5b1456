"""Readers that refuse ambiguity: a file accepted means exactly what it says.

- YAML is read with a YAML 1.2-style core schema: only ``true``/``false`` are booleans
  (``yes``, ``no``, ``on``, ``off`` stay text, which a number field then refuses), and no
  base-60 numbers (``1:30`` is not 90). A key given twice in one mapping is refused with the
  lines of both.
- JSON: a key given twice in one object is refused, naming the key and its lines.
- Text is UTF-8, with or without a byte-order mark; anything else is refused with the
  encoding problem and the fix. Files above :data:`MAX_BYTES` and nesting deeper than
  :data:`MAX_DEPTH` are refused.
"""

from __future__ import annotations

import csv
import json
import re
from collections.abc import Hashable, Iterable
from pathlib import Path
from typing import Any, Final

import yaml

from dsg_forecast.errors import Issue, ScenarioError, as_path

MAX_BYTES: Final = 20_000_000
"""The largest input file read (20 MB; a scenario with a stock CSV is a few hundred KB)."""

MAX_DEPTH: Final = 50
"""The deepest nesting accepted (a scenario nests about six levels)."""


#: libyaml's parser where PyYAML has it (about a tenth of the pure-Python parser's time: a
#: third of a second on the Wiltshire plan), the same resolvers and constructors either way
_SafeLoader: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class StrictLoader(_SafeLoader):  # type: ignore[misc]
    """A safe YAML loader with YAML 1.2 booleans and numbers and no duplicate keys."""


def _construct_mapping(loader: StrictLoader, node: yaml.MappingNode, deep: bool = False) -> Any:
    seen: dict[Any, int] = {}
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=True)
        line = key_node.start_mark.line + 1
        if key in seen:
            msg = (
                f"the key {key!r} is given twice in one mapping (lines {seen[key]} and {line}); "
                "the second would silently replace the first: keep one"
            )
            raise ScenarioError([Issue(str(key), msg)])
        seen[key] = line
    return loader.construct_mapping(node, deep=deep)


# YAML 1.2 core schema: booleans are true/false only, integers have no base 60
StrictLoader.yaml_implicit_resolvers = {
    first: [
        (tag, regexp)
        for tag, regexp in resolvers
        if tag not in ("tag:yaml.org,2002:bool", "tag:yaml.org,2002:int")
    ]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
StrictLoader.add_implicit_resolver(
    "tag:yaml.org,2002:bool",
    re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"),
    list("tTfF"),
)
StrictLoader.add_implicit_resolver(
    "tag:yaml.org,2002:int",
    re.compile(
        r"^(?:[-+]?0b[0-1_]+|[-+]?0o?[0-7_]+|[-+]?(?:0|[1-9][0-9_]*)|[-+]?0x[0-9a-fA-F_]+)$"
    ),
    list("-+0123456789"),
)
StrictLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def load_yaml(text: str) -> Any:
    """Parse YAML strictly (see the module's description).

    Parameters
    ----------
    text
        The YAML text.

    Returns
    -------
    Any
        The parsed data.

    Raises
    ------
    ScenarioError
        For a key given twice; syntax errors propagate as ``yaml.YAMLError``.
    """
    return yaml.load(text, Loader=StrictLoader)


def load_json(text: str) -> Any:
    """Parse JSON, refusing a key given twice in one object.

    Parameters
    ----------
    text
        The JSON text.

    Returns
    -------
    Any
        The parsed data.

    Raises
    ------
    ScenarioError
        For a key given twice (naming the lines where the key appears).
    """

    def pairs(items: list[tuple[str, Any]]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for key, value in items:
            if key in out:
                lines = [
                    text.count("\n", 0, match.start()) + 1
                    for match in re.finditer(rf'"{re.escape(key)}"\s*:', text)
                ]
                where = f" (it appears at lines {', '.join(map(str, lines))})" if lines else ""
                msg = (
                    f"the key {key!r} is given twice in one object{where}; the second would "
                    "silently replace the first: keep one"
                )
                raise ScenarioError([Issue(key, msg)])
            out[key] = value
        return out

    return json.loads(text, object_pairs_hook=pairs)


def read_text(path: str | Path, what: str = "") -> str:
    """Return a file's text, decoded as UTF-8 (a byte-order mark is allowed).

    Parameters
    ----------
    path
        The file.
    what
        The field or role of the file, for messages (for example ``opening_stock.csv``).

    Returns
    -------
    str
        The text.

    Raises
    ------
    ScenarioError
        If the file is missing, a folder, unreadable, too large, or not UTF-8.
    """
    file = as_path(path, "a file's path", "path")
    if file.is_dir():
        raise ScenarioError([Issue(what, f"{file} is a folder, not a file")], str(file))
    if not file.is_file():
        raise ScenarioError([Issue(what, f"file not found: {file}")], str(file))
    try:
        size = file.stat().st_size
        if size > MAX_BYTES:
            msg = f"{file} is {size:,} bytes; files above {MAX_BYTES:,} bytes are not read"
            raise ScenarioError([Issue(what, msg)], str(file))
        raw = file.read_bytes()
    except OSError as exc:
        msg = f"cannot read {file}: {exc.strerror or exc}"
        raise ScenarioError([Issue(what, msg)], str(file)) from None
    wide = (
        "UTF-32" if raw.startswith((b"\xff\xfe\x00\x00", b"\x00\x00\xfe\xff"))
        else "UTF-16" if raw.startswith((b"\xff\xfe", b"\xfe\xff"))
        else None
    )  # fmt: skip
    if wide:
        msg = f"{file} is {wide} text; save it as UTF-8 (in Excel: CSV UTF-8)"
        raise ScenarioError([Issue(what, msg)], str(file))
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        byte = raw[exc.start : exc.start + 1].hex()
        line = raw.count(b"\n", 0, exc.start) + 1
        msg = (
            f"{file} is not UTF-8 text: byte 0x{byte} on line {line} (perhaps Windows-1252, "
            "as older Excel saves it); save the file as UTF-8"
        )
        raise ScenarioError([Issue(what, msg)], str(file)) from None


def check_depth(data: Any, source: str, depth: int = 0) -> None:
    """Refuse data nested deeper than :data:`MAX_DEPTH`.

    Parameters
    ----------
    data
        Parsed data.
    source
        The file, for messages.
    depth
        The depth of ``data`` itself.

    Raises
    ------
    ScenarioError
        If the nesting is deeper than the limit.
    """
    if depth > MAX_DEPTH:
        msg = f"the file nests more than {MAX_DEPTH} levels deep; a scenario nests about six"
        raise ScenarioError([Issue("", msg)], source)
    children = data.values() if isinstance(data, dict) else data if isinstance(data, list) else ()
    for child in children:
        check_depth(child, source, depth + 1)


def repeated_columns(text: str) -> list[str]:
    """Return the names a CSV's header (its first line that is not a comment) repeats.

    pandas would read a repeated ``date`` column as ``date`` and ``date.1`` and use the first
    without a word; readers refuse the file instead.

    Parameters
    ----------
    text
        The CSV's text.

    Returns
    -------
    list of str
        Each repeated name once, sorted; empty when every name is given once.
    """
    rows = csv_rows(text)
    header = rows[0][1] if rows else []
    return sorted({name for name in header if header.count(name) > 1})


def without_comment_lines(text: str) -> str:
    r"""Return a CSV's text with each whole-line ``#`` comment emptied, the lines kept.

    A comment is a line whose first character that is not a space is ``#``; a ``#`` inside a
    value (``Places at school #2``) is text. (pandas' ``comment="#"`` cut a row at any
    ``#``, so the rest of the row, its rating included, was read as empty.)

    Parameters
    ----------
    text
        The CSV's text.

    Returns
    -------
    str
        The same text, comment lines empty (a CSV reader skips them).

    Examples
    --------
    >>> without_comment_lines("# source\na,b\n1,#2\n")
    '\na,b\n1,#2\n'
    """
    lines = text.splitlines(keepends=True)
    return "".join(
        ("\n" if line.endswith(("\n", "\r")) else "") if line.lstrip().startswith("#") else line
        for line in lines
    )


def long_rows(text: str) -> list[tuple[int, int, int]]:
    """Return the rows of a CSV that hold more cells than its header names.

    A comma inside an unquoted value (a note: ``higher, but improving``) splits it in two;
    pandas stops with a parser error. Rows are numbered by the line of the file each starts
    on (:func:`csv_rows`).

    Parameters
    ----------
    text
        The CSV's text.

    Returns
    -------
    list of (row, cells, header cells)
        Empty when no row is longer than the header.
    """
    rows = csv_rows(text)
    if not rows:
        return []
    width = len(rows[0][1])
    return [(line, len(row), width) for line, row in rows[1:] if len(row) > width]


def csv_rows(text: str) -> list[tuple[int, list[str]]]:
    r"""Return a CSV's rows, header first, each with the line of the file it starts on.

    The rows are those the readers read: whole-line ``#`` comments, empty lines and lines
    of spaces alone are skipped (as pandas skips the last two), and a quoted value may run
    over several lines. A message that names a row by its line points at the row a text
    editor or a spreadsheet shows, whatever comments and blank lines come before it.

    Parameters
    ----------
    text
        The CSV's text.

    Returns
    -------
    list of (line, cells)
        Lines count from 1.

    Examples
    --------
    >>> csv_rows("# source\nmeasure,value\n\nehcps,5696\n")
    [(2, ['measure', 'value']), (4, ['ehcps', '5696'])]
    """
    reader = csv.reader(without_comment_lines(text).splitlines())
    rows, start = [], 1
    for row in reader:
        if len(row) > 1 or (row and row[0].strip()):
            rows.append((start, row))
        start = reader.line_num + 1
    return rows


def repeats(keys: Iterable[Hashable], first: int = 2) -> dict[int, int]:
    """Return the position of each key an earlier one gave, and that earlier position.

    A file that gives one key twice (a measure twice for one date, a register item twice in
    one update, a fit's lever twice) would have one entry silently win; readers refuse it,
    naming both places.

    Parameters
    ----------
    keys
        Each entry's key, in order.
    first
        The position of the first entry (2: a CSV's first row below its header; 0: a list's
        first item).

    Returns
    -------
    dict of int to int
        Position → the position that first gave its key; empty when every key is given once.

    Examples
    --------
    >>> repeats([("May", "ehcps"), ("May", "requests"), ("May", "ehcps")])
    {4: 2}
    >>> repeats(["a", "b", "a", "a"], first=0)
    {2: 0, 3: 0}
    """
    seen: dict[Hashable, int] = {}
    repeated: dict[int, int] = {}
    for position, key in enumerate(keys, start=first):
        if key in seen:
            repeated[position] = seen[key]
        else:
            seen[key] = position
    return repeated
