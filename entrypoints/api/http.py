"""Small helpers the views share: JSON bodies and query strings through marshmallow."""

from __future__ import annotations

import codecs
import functools
import json
import sys
from typing import Any
from urllib.parse import unquote_to_bytes

from flask import current_app, request
from gunicorn.http.errors import NoMoreData, ParseException
from marshmallow import Schema, ValidationError
from werkzeug.exceptions import HTTPException, MethodNotAllowed, NotFound, RequestEntityTooLarge

from entrypoints.api.errors import BadRequest, PayloadTooLarge, UnsupportedMediaType
from entrypoints.json_rules import (
    MAX_DEPTH,
    RepeatedKey,
    finite_float,
    json_problem,
    no_constant,
    plainly_read,
    refuse_repeated_keys,
)
from entrypoints.schemas import PATH_IDS, NoQuerySchema, path_id

#: Python reads no integer longer than this (sys.set_int_max_str_digits); 4300 by default.
MAX_DIGITS = sys.get_int_max_str_digits()


def json_body() -> Any:
    """The request's JSON, or a 4xx: 415 wrong type, 413 too large, 400 malformed or hostile."""
    if request.mimetype != "application/json" and not request.mimetype.endswith("+json"):
        raise UnsupportedMediaType(
            f"send the body as Content-Type: application/json, not {request.mimetype or 'none'!r}"
        )
    # werkzeug hands a compressed body on as it came: its bytes read as text that is no UTF-8
    coding = request.headers.get("Content-Encoding", "").strip().lower()
    if coding not in ("", "identity"):
        raise UnsupportedMediaType(
            f"the body is sent with Content-Encoding {coding!r}, which the service does not "
            "decode: send it uncompressed"
        )
    charset = _charset()
    raw = body_bytes()
    try:
        # a byte order mark JSON lets a parser ignore (RFC 8259, 8.1), as the import files do
        text = raw.decode(charset).removeprefix("\ufeff")
    except UnicodeError as error:
        said = _short(error, charset)
        raise BadRequest(f"the body is not valid JSON: {said}", "invalid_json") from None
    plain = plainly_read(text)
    if plain is not None:
        return plain
    try:
        body = json.loads(
            text,
            parse_constant=no_constant,
            parse_float=finite_float,
            parse_int=_integer,
            object_pairs_hook=refuse_repeated_keys,
        )
    except RecursionError:
        raise BadRequest(_too_deep(), "invalid_json") from None
    except RepeatedKey as error:
        raise BadRequest(str(error), "invalid_json") from None
    except ValueError as error:
        raise BadRequest(f"the body is not valid JSON: {_short(error)}", "invalid_json") from None
    _check(body)
    return body


def _charset() -> str:
    """The body's declared charset (UTF-8 unless said otherwise): an LMS sending Latin-1 and
    saying so is read as it says, not told its bytes are no UTF-8; one Python does not know is
    a 415 naming it."""
    name = request.mimetype_params.get("charset", "utf-8").strip().strip('"')
    try:
        info = codecs.lookup(name)
    except (LookupError, ValueError):  # ValueError: a NUL in the name
        info = None
    # bytes.decode refuses a codec of bytes to bytes (base64, zlib): Python marks them so
    codec = info.name if info and getattr(info, "_is_text_encoding", True) else ""
    if not codec or codec in PYTHON_ONLY:
        raise UnsupportedMediaType(
            f"the body's charset {name[:64]!r} is not one the service knows: send it as UTF-8"
        )
    return codec


#: codecs Python has that name no charset (they would read escapes in the text, or nothing)
PYTHON_ONLY = frozenset({"unicode-escape", "raw-unicode-escape", "idna", "punycode", "undefined"})


def body_bytes() -> bytes:
    """The request's body, read once (request.form parses it from the cache), or a 413."""
    limit = current_app.config["MAX_CONTENT_LENGTH"]
    try:
        raw = request.get_data(cache=True)
    except RequestEntityTooLarge:
        raise PayloadTooLarge(limit) from None
    except (ParseException, NoMoreData) as error:
        # gunicorn parses a chunked body only as it is read: a malformed or cut-short one is
        # the client's mistake, not the service's failure
        raise BadRequest(f"the chunked body is malformed: {str(error)[:200]}") from None
    if limit is not None and len(raw) >= limit:
        # A chunked body has no Content-Length: werkzeug stops reading at the limit and hands
        # back the truncated prefix without complaint, which would read as invalid JSON (or a
        # form without its token).
        raise PayloadTooLarge(limit)
    return raw


def _integer(digits: str) -> int:
    if MAX_DIGITS and len(digits.lstrip("-")) > MAX_DIGITS:
        raise BadRequest(
            f"a number in the body is too large (more than {MAX_DIGITS} digits)", "invalid_json"
        )
    return int(digits)


def _short(error: Exception, charset: str = "utf-8") -> str:
    """`error` in a line; a byte that is not of `charset`, the codec the body was read in."""
    if isinstance(error, UnicodeDecodeError):
        return f"not {'UTF-8' if charset == 'utf-8' else charset} at byte {error.start}"
    return str(error)[:200]


def _too_deep() -> str:
    return f"the body nests deeper than {MAX_DEPTH} levels"


def _check(body: Any) -> None:
    found = json_problem(body)
    if found:
        code, problem = found
        raise BadRequest(f"the body {problem}", code)


def query(schema: type[Schema]) -> dict[str, Any]:
    """The query string loaded by `schema`; a parameter given twice is refused (which of the
    two was meant is a guess, and silently taking the first can answer for the wrong learner)."""
    repeated = sorted(name for name, values in request.args.lists() if len(values) > 1)
    if repeated:
        raise ValidationError({n: ["given more than once; give it once"] for n in repeated})
    # werkzeug keeps bytes that are no UTF-8 as their escapes: user_id=caf%E9 would be "caf%E9"
    raw = _wsgi_bytes(request.environ.get("QUERY_STRING", ""))
    pairs = [[unquote_to_bytes(part) for part in pair.split(b"=", 1)] for pair in raw.split(b"&")]
    garbled = [pair[0] for pair in pairs if not all(map(_utf8, pair))]
    if garbled:
        raise ValidationError({n.decode("utf-8", "replace"): [NOT_UTF8] for n in garbled})
    return _loader(schema).load(request.args.to_dict())  # type: ignore[return-value]


def no_query() -> None:
    """A 400 for any query parameter, like the unknown ones `query` refuses."""
    query(NoQuerySchema)


def check_path_ids() -> None:
    """Before every view but the admin ones (they check once the caller is let in, so that
    nothing is said to a caller without credentials): the ids in its path follow the id rule.
    Before every view: a "/" ending an id, unless sent as %2F, is a 404 (see _typed_slash)."""
    typed = _typed_slash()
    if typed:
        raise NotFound(
            f'{typed} ends in a plain "/": drop it, or send it as %2F if the id ends in "/"'
        )
    view = current_app.view_functions.get(request.endpoint or "")
    if getattr(view, "credentials", None) != "admin":
        validate_path_ids()


def _typed_slash() -> str | None:
    """The name of an id of the path that ends in a "/" sent as "/", not as %2F: "DELETE
    /learners/user7/" is a typo for user7, not a learner named "user7/", and is answered as a
    path no route takes (a 404, as before ids could end in "/"), while an xAPI learner whose
    LMS writes its homePage with one ("user7@https://lms.example/") is sent with %2F. The raw
    request line tells them apart (gunicorn's RAW_URI, werkzeug's REQUEST_URI); where the server
    keeps neither, such ids cannot be addressed."""
    args = request.view_args
    if args is None and isinstance(request.routing_exception, MethodNotAllowed):
        # a method the path does not take: its ids as a method it takes reads them (a 405
        # would list methods that then answer 404)
        try:
            adapter = current_app.url_map.bind_to_environ(request.environ)
            args = adapter.match(method=sorted(request.routing_exception.valid_methods or [])[0])[1]
        except (HTTPException, IndexError):
            args = None
    ending = [n for n, v in (args or {}).items() if n in PATH_IDS and str(v).endswith("/")]
    if not ending:
        return None
    raw = request.environ.get("RAW_URI") or request.environ.get("REQUEST_URI") or ""
    return None if raw.partition("?")[0].partition("#")[0].upper().endswith("%2F") else ending[0]


def validate_path_ids() -> None:
    """The ids in the request's path follow the id rule (a 400 naming the id)."""
    # werkzeug replaces bytes that are no UTF-8 with U+FFFD: DELETE /learners/caf%E9 would
    # erase "caf\ufffd", not the learner meant
    raw = request.environ.get("RAW_URI") or request.environ.get("REQUEST_URI") or ""
    garbled = not _utf8(unquote_to_bytes(_wsgi_bytes(raw.partition("?")[0])))
    for name, value in (request.view_args or {}).items():
        if name in PATH_IDS:
            if garbled and "\ufffd" in value:
                raise ValidationError({name: [NOT_UTF8]})
            path_id(value, name)


NOT_UTF8 = "is not UTF-8 text (percent-encode its UTF-8 bytes)"


def _wsgi_bytes(text: str) -> bytes:
    """The bytes a WSGI string stands for (PEP 3333: one character per byte, as latin-1)."""
    return text.encode("latin-1", "ignore")


def _utf8(raw: bytes) -> bool:
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


@functools.cache
def _loader(schema: type[Schema]) -> Schema:
    # One instance per class, shared by every request: building one deep-copies its fields.
    return schema()
