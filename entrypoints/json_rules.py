"""The rules JSON text is read by, wherever it comes from (a request body, a row of an imported
file): no key given twice in one object, nested at most MAX_DEPTH deep, no lone surrogate."""

from __future__ import annotations

import math
import re
from typing import Any

import orjson


class RepeatedKey(ValueError):
    """A JSON object gives one key twice."""


def refuse_repeated_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """json.loads' object_pairs_hook: an object, or RepeatedKey for a key it gives twice
    (json.loads would keep the last silently, so a client's bug would pass for what it meant)."""
    body = dict(pairs)
    if len(body) < len(pairs):  # in C: a fifth of the time of a loop checking each key
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                raise RepeatedKey(f"the key {key!r} is given twice in one object")
            seen.add(key)
    return body


def no_constant(name: str) -> Any:
    """json.loads' parse_constant: NaN and Infinity, which json.dumps writes, are no JSON."""
    raise ValueError(f"{name} is not a JSON number")


def finite_float(text: str) -> float:
    """json.loads' parse_float: a number too large for a float (1e400) is read as infinity, which
    JSON has no word for, and orjson writes back as null (a statement's hash would not tell them
    apart)."""
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"{text} is beyond the range of a number")
    return value


#: Deep enough for every body the API accepts (a batch of courses is 4 levels), shallow enough
#: that validation and error rendering never recurse into Python's stack limit.
MAX_DEPTH = 32
_SURROGATE = re.compile("[\ud800-\udfff]")


def json_problem(value: Any, depth: int = 1) -> tuple[str, str] | None:
    """Why a parsed JSON value is refused, as (the API's error code, what it does: "nests deeper
    than 32 levels"), or None: for deep nesting, and for strings that no UTF-8 text can hold (a
    lone surrogate, which JSON's escapes can spell). Walked without recursion, a part at a time
    only where the part as a whole may hold a problem (see _plainly_fine). `depth`: the level
    `value` sits at (2 for an item of an array)."""
    stack: list[tuple[Any, int]] = [(value, depth)]
    while stack:
        node, depth = stack.pop()
        texts: list[str] = []
        if isinstance(node, str):
            texts = [node]
        elif isinstance(node, dict | list):
            if depth > MAX_DEPTH:
                return "invalid_json", f"nests deeper than {MAX_DEPTH} levels"
            if _plainly_fine(node, depth):
                continue
            if isinstance(node, dict):
                texts = list(node)
                stack.extend((v, depth + 1) for v in node.values())
            else:
                stack.extend((v, depth + 1) for v in node)
        for text in texts:
            found = _SURROGATE.search(text)
            if found:
                return "invalid_unicode", (
                    f"holds a lone surrogate (\\u{ord(found.group()):04x}), which is not Unicode text"
                )
    return None


def _plainly_fine(node: dict[str, Any] | list[Any], depth: int) -> bool:
    """True when `node`, at `depth`, holds neither: orjson writes no lone surrogate (it raises),
    and fewer brackets in what it writes than levels left bound the nesting. A tenth of the
    cost of walking an event or an xAPI statement node by node in Python."""
    try:
        written = orjson.dumps(node)
    except orjson.JSONEncodeError:  # a lone surrogate, an integer past 64 bits, 255 levels
        return False
    return written.count(b"{") + written.count(b"[") <= MAX_DEPTH - depth + 1


def plainly_read(text: str) -> Any:
    """What orjson reads in `text`, where it can show that the rules hold and that it read what
    json reads (in a third of the time json and the rules take), or None for json to read and
    name what breaks them: what orjson refuses (a lone surrogate, NaN, an error to name), an
    integer past 64 bits (orjson makes it a float), a text where a key may be given twice, and
    one the rules find a problem in. Without a \\u escape, every colon of `text` outside its
    strings separates a key from its value, and its strings are the ones orjson writes back: a
    key given twice, dropped with its value, leaves at least one colon fewer in what orjson
    writes back."""
    if "\\u" in text:
        return None
    try:
        value = orjson.loads(text)
        written = orjson.dumps(value)
    except (orjson.JSONDecodeError, orjson.JSONEncodeError):
        return None
    if value is None or written.count(b":") != text.count(":"):
        return None
    if b"e+" in written:  # orjson reads an integer past 64 bits as a float, written 1.8e+19
        return None
    if written.count(b"{") + written.count(b"[") > MAX_DEPTH and json_problem(value):
        return None  # fewer brackets than levels allowed: nested no deeper than allowed
    return value
