"""The rules JSON bodies and imported rows are read by: nesting and lone surrogates, found
however the value is laid out (the check skips parts it can show to be clean)."""

from __future__ import annotations

import io
import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

import entrypoints.files
from entrypoints.files import read_json, read_json_array
from entrypoints.json_rules import (
    MAX_DEPTH,
    RepeatedKey,
    finite_float,
    json_problem,
    no_constant,
    refuse_repeated_keys,
)


def nested(levels: int, inner: Any = 1) -> Any:
    value = inner
    for level in range(levels):
        value = [value] if level % 2 else {"k": value}
    return value


def test_nesting_is_refused_one_level_past_the_limit_wherever_it_sits():
    assert json_problem(nested(MAX_DEPTH)) is None
    assert json_problem(nested(MAX_DEPTH + 1)) == (
        "invalid_json",
        f"nests deeper than {MAX_DEPTH} levels",
    )
    events = [{"user_id": f"u{i}", "tags": ["a", "b"]} for i in range(1000)]
    events[500]["extra"] = nested(MAX_DEPTH - 1)  # events at level 2, so down to level 33
    assert json_problem(events) is not None
    events[500]["extra"] = nested(MAX_DEPTH - 2)
    assert json_problem(events) is None


def test_brackets_inside_strings_do_not_count_as_nesting():
    assert json_problem({"title": "{[" * 100, "tags": ["}" * 50]}) is None


@pytest.mark.parametrize("where", ["value", "key", "deep"])
def test_a_lone_surrogate_is_found_in_a_value_or_a_key_at_any_depth(where):
    lone = "caf\udce9"
    value = {
        "value": [{"id": "x"}, {"id": lone}],
        "key": [{"id": "x"}, {lone: "y"}],
        "deep": nested(20, [lone]),
    }[where]
    assert json_problem(value) == (
        "invalid_unicode",
        "holds a lone surrogate (\\udce9), which is not Unicode text",
    )


def _walk(value: Any, depth: int = 1) -> bool:
    """The plain rule, node by node: nothing deeper than MAX_DEPTH, no lone surrogate."""
    if isinstance(value, str):
        return not any("\ud800" <= c <= "\udfff" for c in value)
    if isinstance(value, dict):
        return depth <= MAX_DEPTH and all(
            _walk(k, depth) and _walk(v, depth + 1) for k, v in value.items()
        )
    if isinstance(value, list):
        return depth <= MAX_DEPTH and all(_walk(v, depth + 1) for v in value)
    return True


texts = st.text(alphabet=st.sampled_from(["a", "{", "[", "\ud800", "é"]), max_size=4)
values = st.recursive(
    st.none() | st.integers(min_value=-(2**70), max_value=2**70) | texts,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(texts, inner, max_size=3),
    max_leaves=60,
).map(lambda v: nested(28, v))


@given(values)
def test_the_check_agrees_with_walking_every_node(value):
    assert (json_problem(value) is None) == _walk(value)


def _text(node: Any) -> str:
    """JSON text for a tree whose objects are lists of (key, value) pairs, keys possibly
    repeated; strings written with or without \\u escapes."""
    if isinstance(node, tuple) and node[0] == "object":
        return "{" + ", ".join(f"{_text(k)}: {_text(v)}" for k, v in node[1]) + "}"
    if isinstance(node, list):
        return "[" + ",".join(_text(v) for v in node) + "]"
    if isinstance(node, tuple):  # ("string", text, escaped)
        return json.dumps(node[1], ensure_ascii=node[2])
    return json.dumps(node)


strings = st.tuples(
    st.just("string"), st.text(alphabet=st.sampled_from('a:é"\\{\ud800'), max_size=4), st.booleans()
)
numbers = (
    st.integers(min_value=-(2**70), max_value=2**70)
    | st.integers(min_value=2**63 - 2, max_value=2**64 + 2).map(lambda n: n * (1 - 2 * (n % 2)))
    | st.integers(min_value=2**64, max_value=10**40)
    | st.floats(allow_nan=False)
)
trees = st.recursive(
    st.none() | st.booleans() | numbers | strings,
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.tuples(st.just("object"), st.lists(st.tuples(strings, inner), max_size=4))
    ),
    max_leaves=30,
)


@given(trees)
def test_an_imported_row_is_read_as_json_and_the_api_rules_read_it(tree):
    """read_json takes a faster path where it can; what it returns or refuses is what json with
    the API's rules gives (a key given twice named, nesting and lone surrogates refused)."""
    text = _text(tree)
    try:
        expected: Any = json.loads(
            text,
            object_pairs_hook=refuse_repeated_keys,
            parse_constant=no_constant,
            parse_float=finite_float,
        )
        problem = json_problem(expected)
        if problem:
            expected = ValueError
    except RepeatedKey:
        expected = RepeatedKey
    except ValueError:  # Infinity
        expected = ValueError
    if isinstance(expected, type):
        with pytest.raises(expected):
            read_json(text)
    else:  # as JSON: a float that equals an integer is still not what was sent
        assert json.dumps(read_json(text)) == json.dumps(expected)
    # an LRS export's array: each item by the same rules, one level down
    items = list(read_json_array(io.StringIO(f"[1, {text}]")))
    if not isinstance(expected, type) and json_problem(expected, depth=2):
        expected = ValueError
    if isinstance(expected, type):
        assert isinstance(items[1], expected)
    else:
        assert json.dumps(items) == json.dumps([1, expected])


@pytest.mark.parametrize(
    ("text", "said"),
    [
        ('{"score": NaN}', "NaN is not a JSON number"),
        ("[Infinity]", "Infinity is not a JSON number"),
        ("[-Infinity]", "-Infinity is not a JSON number"),
        ('{"score": 1e400}', "1e400 is beyond the range of a number"),  # json reads inf
        ("[-1E999]", "-1E999 is beyond the range of a number"),
    ],
)
def test_nan_and_infinity_are_not_json_in_a_file_either(text, said):
    """json.loads takes them (json.dumps writes them, and reads 1e400 as infinity, which orjson
    writes back as null); the API refused the words, and neither refused 1e400. In an array the
    item is refused, and the items around it still read."""
    with pytest.raises(ValueError, match=said):
        read_json(text)
    items = list(read_json_array(io.StringIO(f"[1, {text}, 2]")))
    assert items[0] == 1 and items[2] == 2 and said in str(items[1])


def test_an_integer_past_64_bits_stays_an_integer():
    """orjson reads 2**64 + 1 as the float 1.8446744073709552e+19: a statement's content, and so
    its hash, would depend on which path read it."""
    assert read_json("[18446744073709551617, -9223372036854775809]") == [
        18446744073709551617,
        -9223372036854775809,
    ]


def _read_array(text: str, block: int, head: int = 0) -> list[Any]:
    """The items (JSON text, or the error's type and words), then how the array ended; the
    first `head` characters given as already read."""
    out: list[Any] = []
    try:
        for item in read_json_array(io.StringIO(text[head:]), block, head=text[:head]):
            out.append(json.dumps(item) if not isinstance(item, Exception) else repr(item))
    except ValueError as error:
        out.append(("ended", str(error)))
    return out


spaces = st.sampled_from(["", " ", "\n", "\r\n  ", "\t"])


@given(
    st.lists(st.tuples(spaces, trees, spaces), max_size=6),
    st.integers(min_value=1, max_value=400),
    st.sampled_from(["", "x", ",", "]", "[", '"', "1e", "tru"]),
)
def test_an_array_read_a_block_at_a_time_reads_as_the_whole_text(items, cut, inserted):
    """An LRS export is read a block at a time; an item, a number, a string or a line end cut
    by a block's end reads as when the text is read whole, and an array that stops being JSON
    says where as json says it of the whole text (the same line, column and character)."""
    text = "[" + ",".join(f"{a}{_text(tree)}{b}" for a, tree, b in items) + "]"
    broken = text[:cut] + inserted + text[cut:]  # after the "[" that makes it an array
    whole = _read_array(broken, 10**9)
    for block in (1, 2, 3, 7, 64):
        assert _read_array(broken, block) == whole
        assert _read_array(broken, block, head=min(cut + 2, len(broken))) == whole
    try:
        json.loads(broken, parse_constant=str, parse_float=str, parse_int=str)
    except json.JSONDecodeError as error:
        assert whole[-1] == ("ended", f"not valid JSON ({error})")
    except RecursionError:
        pass
    else:
        assert len(whole) == len(json.loads(broken, parse_constant=str, parse_float=str))


class _Counted(io.StringIO):
    """A text handle that counts the characters read from it."""

    read_so_far = 0

    def read(self, size: int | None = -1) -> str:
        text = super().read(size)
        self.read_so_far += len(text)
        return text


@pytest.mark.parametrize(
    "break_", [" ", "x", '"a":1', "1e5e"], ids=["no comma", "junk", "key", "number"]
)
def test_a_break_early_in_a_large_array_is_named_without_reading_the_rest(break_):
    """The break's place is known once the item before it is read: reading on to the end of an
    export of millions of statements (and holding it) would not mend it."""
    item = json.dumps({"id": "x" * 200})
    handle = _Counted("[" + item + break_ + ",".join([item] * 10_000) + "]")
    with pytest.raises(ValueError, match="not valid JSON"):
        list(read_json_array(handle, 1000))
    assert handle.read_so_far <= 4000


@given(
    st.text(alphabet=st.sampled_from(["a", "\n", "é", "€", "😀"]), max_size=40),
    st.integers(min_value=0, max_value=200),
    st.sampled_from([b"\xe9", b"\xff", b"\xc3", b"\xf0\x9f", b"\xed\xa0\x80"]),
    st.sampled_from([1, 2, 3, 5, 64]),
)
def test_where_a_file_stops_being_utf8_is_found_a_block_at_a_time(text, cut, bad, block):
    """The first bad byte, its offset and its line, as decoding the whole file finds them, while
    the file is read a block at a time (a character or the bad sequence cut by a block's end, the
    file ending inside a character)."""
    import tempfile
    from pathlib import Path

    data = text.encode()
    data = data[:cut] + bad + data[cut:]
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "export.jsonl"
        path.write_bytes(data)
        whole = str(entrypoints.files._not_utf8(path))
        saved = entrypoints.files.BLOCK
        entrypoints.files.BLOCK = block
        try:
            assert str(entrypoints.files._not_utf8(path)) == whole
        finally:
            entrypoints.files.BLOCK = saved
    error = None
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as found:
        error = found
    assert error is not None
    line = data.count(b"\n", 0, error.start) + 1
    assert f"(byte {data[error.start]:#04x} at offset {error.start}, line {line})" in whole
