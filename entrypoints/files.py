"""Reading catalog and event files (CSV or JSON lines) into validated domain objects."""

from __future__ import annotations

import csv
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from marshmallow import Schema, ValidationError, fields

from entrypoints.json_rules import (
    MAX_DEPTH,
    RepeatedKey,
    finite_float,
    json_problem,
    no_constant,
    plainly_read,
    refuse_repeated_keys,
)
from entrypoints.schemas import problems

LIST_COLUMNS = ("tags", "prerequisites")
#: how a yes or a no may be spelled in a CSV cell (any case); JSON says true or false
BOOLEANS = {str(v).lower(): True for v in fields.Boolean.truthy} | {
    str(v).lower(): False for v in fields.Boolean.falsy
}


@dataclass
class Parsed:
    items: list[Any] = field(default_factory=list)
    lines: list[int] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


class NotUtf8(ValueError):
    """A file that is not UTF-8 text; nothing of it was read."""


def read_text(path: Path) -> str:
    """The file's text, without the byte order mark Excel writes before UTF-8 (what utf-8-sig
    drops); NotUtf8 says where it is not UTF-8."""
    try:
        return path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError:
        raise _not_utf8(path) from None


def _not_utf8(path: Path) -> NotUtf8:
    """Where `path` stops being UTF-8: its first bad byte, that byte's offset and line."""
    data = path.read_bytes()
    try:
        data.decode("utf-8")
        return NotUtf8(f"{path} is not UTF-8 text; save it as UTF-8")
    except UnicodeDecodeError as error:
        line = data.count(b"\n", 0, error.start) + 1
        return NotUtf8(
            f"{path} is not UTF-8 text (byte {data[error.start]:#04x} at offset {error.start}, "
            f"line {line}); save it as UTF-8"
        )


#: json's own reader stops at Python's recursion limit, far deeper than the rules allow
_TOO_DEEP = f"the JSON nests deeper than {MAX_DEPTH} levels"
#: made once: json.loads with a hook builds a decoder at every call
_DECODER = json.JSONDecoder(
    object_pairs_hook=refuse_repeated_keys, parse_constant=no_constant, parse_float=finite_float
)
#: where an item the rules refuse ends: reads any number and key, keeping nothing of them
_ANY = json.JSONDecoder(parse_constant=str, parse_float=str, parse_int=str)


def read_json(text: str) -> Any:
    """The JSON value `text` holds, by the API's rules for a body (no key given twice in one
    object, nested at most 32 deep, no lone surrogate); ValueError says why not, in words for
    the file's owner."""
    value = plainly_read(text)
    if value is not None:
        return value
    try:
        value = _DECODER.decode(text)
    except RepeatedKey:
        raise
    except json.JSONDecodeError as error:
        raise ValueError(f"not valid JSON ({error.msg})") from None
    except RecursionError:
        raise ValueError(_TOO_DEEP) from None
    except ValueError as error:  # NaN, 1e400, an integer of more than 4,300 digits
        raise ValueError(f"not valid JSON ({error})") from None
    found = json_problem(value)
    if found:
        raise ValueError(f"the JSON {found[1]}")
    return value


#: what JSON counts as whitespace
_SPACE = re.compile(r"[ \t\n\r]*")


def read_json_array(text: str) -> list[Any]:
    """The items of the JSON array `text` holds, each by the rules read_json applies (an item at
    level 2): one that breaks them is a ValueError in its place, so that the others can still be
    imported. A text that is no JSON array raises ValueError, saying where."""
    whole = plainly_read(text)
    if isinstance(whole, list):
        return whole
    items: list[Any] = []
    try:
        pos = _SPACE.match(text).end()  # type: ignore[union-attr]
        if not text.startswith("[", pos):
            raise json.JSONDecodeError("Expecting '['", text, pos)
        pos = _SPACE.match(text, pos + 1).end()  # type: ignore[union-attr]
        while not text.startswith("]", pos):
            if items:
                if not text.startswith(",", pos):
                    raise json.JSONDecodeError("Expecting ',' delimiter", text, pos)
                pos = _SPACE.match(text, pos + 1).end()  # type: ignore[union-attr]
            item, pos = _array_item(text, pos)
            items.append(item)
            pos = _SPACE.match(text, pos).end()  # type: ignore[union-attr]
        pos = _SPACE.match(text, pos + 1).end()  # type: ignore[union-attr]
        if pos != len(text):
            raise json.JSONDecodeError("Extra data", text, pos)
    except json.JSONDecodeError as error:
        raise ValueError(f"not valid JSON ({error})") from None
    except RecursionError:  # too deep to find where the item ends: the array is unreadable
        raise ValueError(f"{_TOO_DEEP} (item {len(items)})") from None
    return items


def _array_item(text: str, pos: int) -> tuple[Any, int]:
    """The item of an array at `pos` (or why the rules refuse it), and where it ends."""
    try:
        value, end = _DECODER.raw_decode(text, pos)
    except RepeatedKey as error:
        return error, _ANY.raw_decode(text, pos)[1]
    except json.JSONDecodeError:
        raise
    except ValueError as error:  # NaN, 1e400, an integer of more than 4,300 digits
        return ValueError(f"not valid JSON ({error})"), _ANY.raw_decode(text, pos)[1]
    found = json_problem(value, depth=2)
    return (ValueError(f"the JSON {found[1]}") if found else value), end


def _rows(path: Path) -> Iterator[tuple[int, Any]]:
    """(line, row) of the file, read as it goes (a large import never holds its text whole)."""
    try:
        yield from _decoded_rows(path)
    except UnicodeDecodeError:
        raise _not_utf8(path) from None


def _decoded_rows(path: Path) -> Iterator[tuple[int, Any]]:
    if path.suffix.lower() == ".csv":
        with path.open(newline="", encoding="utf-8-sig") as handle:
            reader = csv.DictReader(handle)
            for row in reader:
                yield reader.line_num, _csv_row(row)
        return
    with path.open(encoding="utf-8-sig") as handle:
        for number, line in enumerate(handle, start=1):
            if line.strip():
                try:
                    yield number, read_json(line)
                except ValueError as error:
                    yield number, error


def _csv_row(row: dict[str, Any]) -> dict[str, Any] | ValueError:
    # csv's key for the fields past the header's: a row with more than the header names (an
    # unquoted comma, a shifted row) would lose them unseen; blank ones (Excel's) hold nothing
    extra = [v for v in row.pop(None, []) if v.strip()]
    if extra:
        shown = ", ".join(repr(v) for v in extra[:3]) + (", ..." if len(extra) > 3 else "")
        return ValueError(f"more fields than the header names: {shown}")
    clean = {k: v for k, v in row.items() if v not in (None, "")}
    for name in LIST_COLUMNS:
        if name in clean:
            clean[name] = [part.strip() for part in clean[name].split("|") if part.strip()]
    if "active" in clean:
        given = clean.pop("active")
        spelled = given.strip().lower()
        if spelled in BOOLEANS:
            clean["active"] = BOOLEANS[spelled]
        elif spelled:  # blank: the default
            return ValueError(f"active: {given!r} is not true/false, 1/0, yes/no or on/off")
    return clean


def parse_file(path: Path, schema: Schema) -> Parsed:
    """Every row through `schema`; rows that fail are reported with their line number."""
    parsed = Parsed()
    for line, row in _rows(path):
        if isinstance(row, ValueError):
            parsed.errors.append(f"line {line}: {row}")
            continue
        if not isinstance(row, dict):
            parsed.errors.append(f"line {line}: expected an object")
            continue
        try:
            parsed.items.append(schema.load(row))
            parsed.lines.append(line)
        except ValidationError as error:
            for problem in problems(error.messages):
                parsed.errors.append(f"line {line}: {problem['field']}: {problem['message']}")
    return parsed
