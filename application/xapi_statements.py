"""xAPI 1.0.3 statements: the parts we use, validated as the specification requires."""

from __future__ import annotations

import hashlib
import json
import re
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson

from domain.model import UserId

VOIDED = "http://adlnet.gov/expapi/verbs/voided"
IDENTIFIERS = ("mbox", "mbox_sha1sum", "openid", "account")
# Left out of the "same content" comparison, as the specification's statement comparison says.
NOT_COMPARED = ("id", "authority", "stored", "timestamp", "version", "attachments")
# No space, none of the characters RFC 3987 leaves out, and no control character (C0, DEL, C1).
_IRI = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]*:[^\s<>\"{}|\\^`\x00-\x1f\x7f-\x9f]+\Z")
_UUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}\Z")
_SHA1 = re.compile(r"[0-9a-fA-F]{40}\Z")
EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class Statement:
    """One valid statement. `user_id` is None for a group; `activities` are the object's id (when
    the object is an activity) then the context's parent and grouping activity ids."""

    id: str
    user_id: UserId | None
    verb: str
    object_type: str
    object_id: str
    context_ids: tuple[str, ...]
    timestamp: datetime | None
    content_hash: str

    @property
    def voids(self) -> str | None:
        if self.verb == VOIDED and self.object_type == "StatementRef":
            return self.object_id.lower()
        return None


class Invalid(Exception):
    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


def is_iri(value: Any) -> bool:
    return isinstance(value, str) and len(value) <= 2048 and _IRI.match(value) is not None


def is_uuid(value: Any) -> bool:
    return isinstance(value, str) and _UUID.match(value) is not None


def canonical(value: Any) -> bytes:
    """Sorted keys, no spaces, UTF-8: the same bytes for the same JSON however it was written."""
    try:
        return orjson.dumps(value, option=orjson.OPT_SORT_KEYS)
    except TypeError:  # integers beyond 64 bits, which orjson does not write
        return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def content_hash(raw: dict[str, Any]) -> str:
    compared = {k: v for k, v in raw.items() if k not in NOT_COMPARED}
    return hashlib.sha256(canonical(compared)).hexdigest()


def sha1(text: str) -> str:
    return hashlib.sha1(text.encode()).hexdigest()  # noqa: S324 - xAPI defines mbox_sha1sum as SHA-1


def _object(value: Any, field: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise Invalid(field, "must be a JSON object")
    return value


def learner_id(actor: Any, qualify_accounts: bool) -> UserId | None:
    """Our user_id for an actor: the account name (optionally name@homePage), or the SHA-1 of the
    mbox, so no e-mail address is ever stored. None for a group without its own identifier."""
    actor = _object(actor, "actor")
    found = [key for key in IDENTIFIERS if key in actor]
    if actor.get("objectType") == "Group" and not found:
        if not isinstance(actor.get("member"), list):
            raise Invalid("actor.member", "an anonymous group must list its members")
        return None
    if len(found) != 1:
        raise Invalid("actor", f"must have exactly one identifier of {', '.join(IDENTIFIERS)}")
    if actor.get("objectType") == "Group":
        return None
    key = found[0]
    value = actor[key]
    if key == "mbox":
        if not isinstance(value, str) or not re.match(r"mailto:[^@\s]+@[^@\s]+\Z", value):
            raise Invalid("actor.mbox", "must be a mailto: IRI of an e-mail address")
        return UserId("sha1:" + sha1(value))
    if key == "mbox_sha1sum":
        if not isinstance(value, str) or not _SHA1.match(value):
            raise Invalid("actor.mbox_sha1sum", "must be 40 hexadecimal digits")
        return UserId("sha1:" + value.lower())
    if key == "openid":
        if not is_iri(value):
            raise Invalid("actor.openid", "must be an IRI")
        return UserId("openid:" + sha1(value))
    account = _object(value, "actor.account")
    name, home = account.get("name"), account.get("homePage")
    if not is_iri(home):
        raise Invalid("actor.account.homePage", "must be an IRL")
    if not isinstance(name, str) or not name.strip():
        raise Invalid("actor.account.name", "must be a non-empty string")
    user = f"{name}@{home}" if qualify_accounts else name
    if len(user) > 128 or not user.isprintable() or user != user.strip():
        raise Invalid("actor.account.name", "is not usable as a learner id (1 to 128 printable)")
    return UserId(user)


def _timestamp(value: Any, now: datetime, max_clock_skew: timedelta) -> datetime | None:
    if value is None:
        return None
    try:
        # upper case: RFC 3339, which ISO 8601 timestamps are sent as, allows "t" and "z"
        moment = datetime.fromisoformat(value.upper()) if isinstance(value, str) else None
    except ValueError:
        moment = None
    if moment is None:
        raise Invalid("timestamp", "must be an ISO 8601 date and time")
    if moment.tzinfo is None:
        raise Invalid("timestamp", "must include a time zone (e.g. Z or +02:00)")
    try:
        moment = moment.astimezone(UTC)
    except OverflowError:  # 9999-12-31T23:59:59-14:00 lies past the last representable moment
        raise Invalid("timestamp", "is not a representable date and time") from None
    if moment < EARLIEST:
        raise Invalid("timestamp", "must not lie before 1970")
    if moment > now + max_clock_skew:  # the limit of every event (LogInteractions)
        seconds = int(max_clock_skew.total_seconds())
        raise Invalid("timestamp", f"lies more than {seconds} s in the future (RS_MAX_CLOCK_SKEW)")
    return moment


def _context_ids(context: Any) -> tuple[str, ...]:
    if context is None:
        return ()
    activities = _object(context, "context").get("contextActivities") or {}
    activities = _object(activities, "context.contextActivities")
    ids: list[str] = []
    for kind in ("parent", "grouping"):
        found = activities.get(kind) or []
        for activity in found if isinstance(found, list) else [found]:
            if not is_iri(_object(activity, f"context.contextActivities.{kind}").get("id")):
                raise Invalid(f"context.contextActivities.{kind}.id", "must be an IRI")
            ids.append(activity["id"])
    return tuple(ids)


def derived_id(raw: dict[str, Any]) -> str:
    """The same id for the same id-less statement (timestamp included), so a re-import is a no-op."""
    text = canonical(raw).decode()
    return str(uuid.uuid5(uuid.NAMESPACE_URL, "xapi-statement:" + text))


def parse(
    raw: Any,
    qualify_accounts: bool,
    now: datetime,
    max_clock_skew: timedelta,
    derive_id: bool = False,
) -> Statement:
    """A Statement, or Invalid naming the first field that breaks the specification (or lies more
    than `max_clock_skew` after `now`). Without an id, the statement gets a random one (what an
    LRS does), or with `derive_id` one derived from its content."""
    raw = _object(raw, "statement")
    statement_id = raw.get("id")
    if statement_id is not None and not is_uuid(statement_id):
        raise Invalid("id", "must be a UUID")
    user = learner_id(raw.get("actor"), qualify_accounts)
    verb = _object(raw.get("verb"), "verb")
    if not is_iri(verb.get("id")):
        raise Invalid("verb.id", "must be an IRI")
    target = _object(raw.get("object"), "object")
    object_type = target.get("objectType", "Activity")
    if object_type == "Activity" and not is_iri(target.get("id")):
        raise Invalid("object.id", "must be an IRI")
    if object_type == "StatementRef" and not is_uuid(target.get("id")):
        raise Invalid("object.id", "must be a UUID")
    if verb["id"] == VOIDED and object_type != "StatementRef":
        raise Invalid("object.objectType", "a voiding statement's object must be a StatementRef")
    return Statement(
        id=statement_id.lower()
        if statement_id
        else derived_id(raw)
        if derive_id
        else str(uuid.uuid4()),
        user_id=user,
        verb=verb["id"],
        object_type=object_type,
        object_id=str(target.get("id", "")),
        context_ids=_context_ids(raw.get("context")),
        timestamp=_timestamp(raw.get("timestamp"), now, max_clock_skew),
        content_hash=content_hash(raw),
    )


def parse_all(
    raws: Sequence[Any],
    qualify_accounts: bool,
    now: datetime,
    max_clock_skew: timedelta,
    derive_ids: bool = False,
) -> tuple[list[Statement], list[dict[str, object]]]:
    """Every statement parsed; problems are [{index, field, message}] (index into `raws`)."""
    parsed: list[Statement] = []
    problems: list[dict[str, object]] = []
    seen: dict[str, int] = {}
    for index, raw in enumerate(raws):
        try:
            statement = parse(raw, qualify_accounts, now, max_clock_skew, derive_ids)
        except Invalid as error:
            problems.append({"index": index, "field": error.field, "message": str(error)})
            continue
        if statement.id in seen:
            problems.append(
                {
                    "index": index,
                    "field": "id",
                    "message": "repeats the id of an earlier statement",
                }
            )
            continue
        seen[statement.id] = index
        parsed.append(statement)
    return parsed, problems
