"""Reading catalog and event files (CSV or JSON lines, and JSON arrays for xAPI exports) as they
go, by the API's JSON rules, into validated domain objects."""

from __future__ import annotations

import codecs
import csv
import io
import itertools
import json
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

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


class UnreadableFile(ValueError):
    """A file none of whose rows is read."""


class NotUtf8(UnreadableFile):
    """A file that is not UTF-8 text; nothing of it was read."""


class BadHeader(UnreadableFile):
    """A CSV header that lacks a column every row needs, or names one no row may hold (another
    separator, an LMS's own column): each row would be a bad row, said in as many lines."""


def _not_utf8(path: Path) -> NotUtf8:
    """Where `path` stops being UTF-8: its first bad byte, that byte's offset and line, read again
    a block at a time from a file (a pipe cannot be read again: opening a named one would wait
    for a writer)."""
    if path.is_file():
        decoder = codecs.getincrementaldecoder("utf-8")()
        offset = lines = 0
        with path.open("rb") as handle:
            while True:
                block = handle.read(BLOCK)
                held = decoder.getstate()[0]  # the start of a character the last block cut
                try:
                    decoder.decode(block, final=not block)
                except UnicodeDecodeError as error:
                    data = held + block
                    line = lines + data.count(b"\n", 0, error.start) + 1
                    return NotUtf8(
                        f"{path} is not UTF-8 text (byte {data[error.start]:#04x} at offset "
                        f"{offset - len(held) + error.start}, line {line}); save it as UTF-8"
                    )
                if not block:
                    break
                offset += len(block)
                lines += block.count(b"\n")
    return NotUtf8(f"{path} is not UTF-8 text; save it as UTF-8")


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


#: how much of a file is read at a time (characters of a JSON array, bytes when looking for where
#: a file stops being UTF-8)
BLOCK = 1 << 20
#: what may follow an item up to the block's end when the item was cut off (a number's digits,
#: point, exponent and sign, or white space before the comma)
_NUMBER_GOES_ON = re.compile(r"[0-9.eE+\-]*[ \t\n\r]*")
#: json fails on a text cut off inside a token no further back from its end than this (8 for a
#: cut "-Infinity"); inside a string, it says the string is unterminated
_LONGEST_TOKEN = 10


class NotJsonArray(ValueError):
    """A JSON array that stops being JSON; says where, as json says it of the whole text."""


def read_json_array(handle: TextIO, block: int = 0, head: str = "") -> Iterator[Any]:
    """The items of the JSON array `handle` holds, read `block` (BLOCK) characters at a time: an
    export of millions of statements is never held whole, only the item being read. Each item
    is read by the rules read_json applies (at level 2): one that breaks them is a ValueError in
    its place, so that the others can still be imported. Where the text stops being a JSON
    array, NotJsonArray says where, after the items before that place. `head`: the text's start,
    already read from `handle`."""
    return _ArrayReader(handle, block or BLOCK, head).items()


class _ArrayReader:
    """A JSON array read from a text handle a block at a time. self.text[self.pos:] is what is
    left to read of what was read so far; the self.gone characters before self.text held
    self.lines line ends, and the last of their lines was self.column characters long."""

    def __init__(self, handle: TextIO, block: int, head: str) -> None:
        self.handle, self.block = handle, block
        self.text, self.pos, self.ended = head, 0, False
        self.gone = self.lines = self.column = 0

    def items(self) -> Iterator[Any]:
        self._expect("[", "Expecting '['")
        self._skip_space()
        count = 0
        while not self.text.startswith("]", self.pos):
            if count:
                self._expect(",", "Expecting ',' delimiter")
                self._skip_space()
            try:
                value = self._item()
            except RecursionError:  # too deep to find where the item ends: the rest is unreadable
                raise NotJsonArray(f"{_TOO_DEEP} (item {count})") from None
            yield value
            count += 1
            self._skip_space()
        self.pos += 1
        self._skip_space()
        if self.pos != len(self.text):
            raise self._error("Extra data", self.pos)

    def _item(self) -> Any:
        """The next item (or why the rules refuse it). Where the block's end may have cut it,
        reads on and tries again: an item that goes on past the end fails there, or in a string
        that has not ended yet, and a number cut off ("1.5e" of 1.5e3) reads as a shorter one.
        A break anywhere else is the file's, and reading on would not mend it."""
        while True:
            try:
                value, end = _array_item(self.text, self.pos)
            except json.JSONDecodeError as error:
                cut = error.pos >= len(self.text) - _LONGEST_TOKEN or error.msg.startswith(
                    "Unterminated string"
                )
                if cut and self._more(grow=True):
                    continue
                raise self._error(error.msg, error.pos) from None
            if _NUMBER_GOES_ON.fullmatch(self.text, end) and self._more(grow=True):
                continue
            self.pos = end
            return value

    def _more(self, grow: bool = False) -> bool:
        """Reads on, dropping what was read; False at the end. `grow`: at least as much again as
        is left unread, so an item many blocks long is decoded a few times, not once a block."""
        if self.ended:
            return False
        chunk = self.handle.read(max(self.block, len(self.text) - self.pos) if grow else self.block)
        if not chunk:
            self.ended = True
            return False
        read = self.text[: self.pos]
        newline = read.rfind("\n")
        self.column = len(read) - newline - 1 if newline >= 0 else self.column + len(read)
        self.lines += read.count("\n")
        self.gone += len(read)
        self.text, self.pos = self.text[self.pos :] + chunk, 0
        return True

    def _skip_space(self) -> None:
        self.pos = _SPACE.match(self.text, self.pos).end()  # type: ignore[union-attr]
        while self.pos == len(self.text) and self._more():
            self.pos = _SPACE.match(self.text, self.pos).end()  # type: ignore[union-attr]

    def _expect(self, char: str, message: str) -> None:
        self._skip_space()
        if not self.text.startswith(char, self.pos):
            raise self._error(message, self.pos)
        self.pos += 1

    def _error(self, message: str, pos: int) -> NotJsonArray:
        """`message` at `pos` of self.text, placed as json places it in the whole text."""
        line = self.lines + self.text.count("\n", 0, pos) + 1
        newline = self.text.rfind("\n", 0, pos)
        column = pos - newline if newline >= 0 else self.column + pos + 1
        return NotJsonArray(
            f"not valid JSON ({message}: line {line} column {column} (char {self.gone + pos}))"
        )


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


def _rows(path: Path, schema: Schema, needed: Iterable[str]) -> Iterator[tuple[int, Any]]:
    """(line, row) of the file, read as it goes (a large import never holds its text whole)."""
    try:
        yield from _decoded_rows(path, schema, needed)
    except UnicodeDecodeError:
        raise _not_utf8(path) from None
    except OSError as error:  # unreadable (its mode, a folder): said, not a traceback
        raise UnreadableFile(f"{path} cannot be read: {error.strerror or error}") from None


#: csv's own limit on a field (128 Ki characters) raised csv.Error, a traceback, on a long
#: description: lifted, so that the schema names the field and its limit, as for JSON lines
CSV_FIELD_LIMIT = 2**31 - 1


#: names that say JSON lines; ".csv" says CSV, and a name that says neither (a pipe's
#: "/dev/fd/63", "events.txt") is read as JSON lines when its text starts with "{"
JSON_SUFFIXES = (".jsonl", ".ndjson", ".json")


def _is_csv(path: Path, raw: io.BufferedReader) -> bool:
    """By the name, or else by the first bytes, peeked (a pipe is read once: none is lost)."""
    suffix = path.suffix.lower()
    if suffix == ".csv" or suffix in JSON_SUFFIXES:
        return suffix == ".csv"
    start = raw.peek(4096).removeprefix(b"\xef\xbb\xbf").lstrip()
    return bool(start) and not start.startswith(b"{")


def _decoded_rows(path: Path, schema: Schema, needed: Iterable[str]) -> Iterator[tuple[int, Any]]:
    with path.open("rb") as raw:
        as_csv = _is_csv(path, raw)
        with io.TextIOWrapper(raw, "utf-8-sig", newline="" if as_csv else None) as handle:
            if as_csv:
                yield from _csv_rows(path, handle, schema, needed)
            else:
                for number, row in _json_lines(handle):
                    yield number, _ids_as_text(row)


def _csv_rows(
    path: Path, handle: io.TextIOWrapper, schema: Schema, needed: Iterable[str]
) -> Iterator[tuple[int, Any]]:
    csv.field_size_limit(CSV_FIELD_LIMIT)
    lines = _Lines(handle)
    reader = csv.DictReader(lines)
    names = reader.fieldnames or []
    _header_checked(path, names, schema, needed)
    # csv keeps the last of a column named twice: which was meant is a guess, as for a key
    # given twice in a JSON object (blank names: the empty columns Excel leaves)
    twice = next((n for n in names if n.strip() and names.count(n) > 1), None)
    lines.start = None
    for row in reader:
        start, lines.start = lines.start or reader.line_num, None
        if lines.open_at_end:  # csv ends the open field there, fields run together
            yield start, ValueError("a quote left open runs to the end of the file")
        elif twice is None:
            yield start, _csv_row(row)
        else:
            yield start, ValueError(f"the header names {twice!r} twice")


#: the ids an LMS's export may write as JSON numbers (Moodle's user and course ids are)
ID_FIELDS = ("user_id", "course_id", "event_id", "recommendation_id")


def _header_checked(path: Path, names: list[str], schema: Schema, needed: Iterable[str]) -> None:
    named = [n for n in names if n.strip()]  # blank: the empty columns Excel leaves
    if not named:
        return  # an empty file: said as holding no rows
    columns = list(schema.load_fields)
    required = [n for n, f in schema.load_fields.items() if f.required]
    missing = [n for n in [*required, *needed] if n not in named]
    unknown = [n if n == n.strip() else repr(n) for n in named if n not in columns]
    if missing or unknown:
        said = [f"lacks {', '.join(missing)}"] if missing else []
        said += [f"names {', '.join(unknown)}"] if unknown else []
        raise BadHeader(f"{path}: the header {'; '.join(said)} (its columns: {', '.join(columns)})")


def _ids_as_text(row: Any) -> Any:
    """A JSON line's whole-number ids as the text a CSV file gives them in (7 is "7"), so that
    the same export imports in either format; prerequisites too. 7.0 or true stay refused."""
    if not isinstance(row, dict):
        return row
    for name in ID_FIELDS:
        if _whole(row.get(name)):
            row[name] = str(row[name])
    if isinstance(row.get("prerequisites"), list):
        row["prerequisites"] = [str(p) if _whole(p) else p for p in row["prerequisites"]]
    return row


def _whole(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


class _Lines:
    """A CSV file's lines as csv reads them, noting where the row being read starts: a row's
    quoted field may span lines, and its problems are said at its first line (csv's own line
    count is its last), the first that is not blank (csv skips blank lines between rows)."""

    def __init__(self, handle: TextIO) -> None:
        self.handle = handle
        self.number = 0
        self.start: int | None = None
        #: the file ended inside a row: only a quote left open asks for a line after the last
        self.open_at_end = False

    def __iter__(self) -> _Lines:
        return self

    def __next__(self) -> str:
        try:
            line = next(self.handle)
        except StopIteration:
            self.open_at_end = self.start is not None
            raise
        self.number += 1
        if self.start is None and line.strip("\r\n"):
            self.start = self.number
        return line


def _json_lines(handle: Iterable[str]) -> Iterator[tuple[int, Any]]:
    """(line, value or why the rules refuse it) of each line that is not blank; a handle opened
    with newline=None ends a line at \\n, \\r\\n or \\r, as the other imports do (not at
    U+2028, which a JSON string may hold)."""
    for number, line in enumerate(handle, start=1):
        if line.strip():
            try:
                yield number, read_json(line)
            except ValueError as error:
                yield number, error


def read_json_values(path: Path, item: str = "item") -> Iterator[tuple[str, Any]]:
    """(where, value) of each JSON value in `path`, a JSON array ("{item} 0", "{item} 1", ...)
    or JSON lines ("line 1", ...), read as it goes (a pipe too: nothing is read twice), each by
    read_json's rules: a value that breaks them is a ValueError in its place. NotUtf8, or
    NotJsonArray (after the items before that place), ends it."""
    try:
        with path.open(encoding="utf-8-sig") as handle:
            head = _head(handle)
            if head.lstrip().startswith("["):
                for index, value in enumerate(read_json_array(handle, head=head)):
                    yield f"{item} {index}", value
            else:  # the head's last line may go on in the handle
                lines = itertools.chain(io.StringIO(head + handle.readline()), handle)
                for number, value in _json_lines(lines):
                    yield f"line {number}", value
    except UnicodeDecodeError:
        raise _not_utf8(path) from None


def _head(handle: TextIO) -> str:
    """The text up to the end of the first block of 64 Ki characters that holds more than white
    space (all of it if none does)."""
    head = ""
    while block := handle.read(1 << 16):
        head += block
        if block.strip():
            break
    return head


class _CsvRow(dict[str, Any]):
    """A CSV row's fields as the schema takes them, with the problems of the CSV's own spellings
    (an `active` that is no boolean), said together with the schema's of the other fields, as a
    JSON line's are."""

    def __init__(self, fields: dict[str, Any], spelling: list[str]) -> None:
        super().__init__(fields)
        self.spelling = spelling


def _csv_row(row: dict[str, Any]) -> _CsvRow | ValueError:
    # csv's key for the fields past the header's: a row with more than the header names (an
    # unquoted comma, a shifted row) would lose them unseen; blank ones (Excel's) hold nothing
    extra = [v for v in row.pop(None, []) if v.strip()]
    if extra:
        shown = ", ".join(repr(v) for v in extra[:3]) + (", ..." if len(extra) > 3 else "")
        return ValueError(f"more fields than the header names: {shown}")
    clean = {k: v for k, v in row.items() if v not in (None, "")}
    spelling = []
    for name in LIST_COLUMNS:
        if name in clean:
            clean[name] = [part.strip() for part in clean[name].split("|") if part.strip()]
    if "level" in clean:  # "Beginner", as a spreadsheet capitalises it
        clean["level"] = clean["level"].strip().lower()
    if "active" in clean:
        given = clean.pop("active")
        spelled = given.strip().lower()
        if spelled in BOOLEANS:
            clean["active"] = BOOLEANS[spelled]
        elif spelled:  # blank: the default
            spelling.append(f"active: {given!r} is not true/false, 1/0, yes/no or on/off")
    return _CsvRow(clean, spelling)


def load_rows(
    path: Path, schema: Schema, needed: Iterable[str] = ()
) -> Iterator[tuple[int, Any, list[str]]]:
    """(line, what `schema` made of the row, []) for each row, or (line, None, its errors,
    each starting "line N: "), read as it goes. A CSV header without the columns `schema`
    requires (and those `needed`), or with one it does not know, is BadHeader."""
    for line, row in _rows(path, schema, tuple(needed)):
        if isinstance(row, ValueError):
            yield line, None, [f"line {line}: {row}"]
        elif not isinstance(row, dict):
            yield line, None, [f"line {line}: expected an object"]
        else:
            found = list(getattr(row, "spelling", []))
            try:
                item = schema.load(row)
            except ValidationError as error:
                found += [f"{p['field']}: {p['message']}" for p in problems(error.messages)]
            if found:
                yield line, None, [f"line {line}: {p}" for p in found]
            else:
                yield line, item, []


def parse_file(path: Path, schema: Schema, needed: Iterable[str] = ()) -> Parsed:
    """Every row through `schema`; rows that fail are reported with their line number."""
    parsed = Parsed()
    for line, item, errors in load_rows(path, schema, needed):
        if item is None:
            parsed.errors += errors
        else:
            parsed.items.append(item)
            parsed.lines.append(line)
    return parsed
