"""An LRS statements resource: LMSs and xAPI clients post statements, we keep learner events."""

from __future__ import annotations

import re

from dependency_injector.wiring import Provide, inject
from flask import Blueprint, Response, jsonify, request

from application.use_cases.ingest_xapi import IngestStatements, XapiResult
from application.use_cases.log_interactions import REPLAYED
from application.xapi_statements import is_uuid
from domain.errors import InvalidStatements, StatementConflict
from entrypoints import metrics
from entrypoints.api.errors import BadRequest, error_response
from entrypoints.api.http import json_body, no_query, query
from entrypoints.api.ingest_auth import ingest_required
from entrypoints.api.openapi import documented
from entrypoints.container import Container
from entrypoints.xapi_schemas import (
    MAX_STATEMENTS,
    STATEMENT_IDS,
    STATEMENTS,
    StatementIdQuerySchema,
    XapiAboutSchema,
    XapiStatementSchema,
)

bp = Blueprint("xapi", __name__, url_prefix="/api/v1/xapi")
VERSION = "1.0.3"
ERRORS = (400, 401, 403, 409, 413)
#: Statements need it (400 xapi_version without it, or with a version other than 1.0.x).
VERSION_HEADER = {
    "name": "X-Experience-API-Version",
    "required": True,
    "schema": {"type": "string", "pattern": r"^1\.0(\.\d+)?$"},
    "description": "the xAPI version the client speaks: 1.0.x",
}


#: 1.0, 1.0.0 ... 1.0.3: the versions whose statements we read ("1.01" or "1.0-beta" are none)
_SPOKEN = re.compile(r"1\.0(\.\d+)?\Z")


@bp.after_app_request
def version_header(response: Response) -> Response:
    """Every answer under the xAPI paths says the version, as the specification asks: also a
    405 or 404 the router gives before the blueprint sees the request."""
    if request.path.startswith(bp.url_prefix or ""):
        response.headers["X-Experience-API-Version"] = VERSION
    return response


def _version() -> None:
    sent = request.headers.get("X-Experience-API-Version")
    if sent is None:
        raise BadRequest("send the header X-Experience-API-Version: 1.0.3", "xapi_version")
    if not _SPOKEN.match(sent):
        raise BadRequest(f"xAPI version {sent!r} is not supported (1.0.x is)", "xapi_version")


def _counted(result: XapiResult) -> None:
    """recsys_events_total counts the events statements become, as it counts /interactions':
    stored, sent again (a statement id seen before), and an erased learner's replays ignored."""
    metrics.events_received(result.accepted, result.duplicates, result.ignored[REPLAYED])


def _conflict(error: StatementConflict):  # type: ignore[no-untyped-def]
    return error_response(409, error.code, str(error), statement_ids=error.statement_ids)


@bp.post("/statements")
@documented(
    "Store xAPI statements (one or an array); answers their ids",
    STATEMENT_IDS,  # type: ignore[arg-type]
    body=STATEMENTS,  # type: ignore[arg-type]
    errors=ERRORS,
    headers=(VERSION_HEADER,),
)
@ingest_required
@inject
def post_statements(use_case: IngestStatements = Provide[Container.ingest_statements]):  # type: ignore[no-untyped-def]
    _version()
    no_query()
    body = json_body()
    statements = body if isinstance(body, list) else [body]
    if len(statements) > MAX_STATEMENTS:
        raise BadRequest(f"at most {MAX_STATEMENTS} statements per request", "too_many_statements")
    try:
        result = use_case.execute(statements)
    except StatementConflict as error:
        return _conflict(error)
    except InvalidStatements as error:
        if isinstance(body, list):
            raise
        raise error.of_one() from None
    _counted(result)
    return jsonify(result.ids)


@bp.put("/statements")
@documented(
    "Store one xAPI statement under ?statementId=",
    query=StatementIdQuerySchema,
    body=XapiStatementSchema,
    status=204,
    errors=ERRORS,
    headers=(VERSION_HEADER,),
)
@ingest_required
@inject
def put_statement(use_case: IngestStatements = Provide[Container.ingest_statements]):  # type: ignore[no-untyped-def]
    _version()
    statement_id = query(StatementIdQuerySchema)["statementId"]
    if not is_uuid(statement_id):
        raise BadRequest("the statementId parameter must be a UUID", "invalid_statement_id")
    body = json_body()
    if not isinstance(body, dict):
        raise BadRequest("PUT takes one statement object", "invalid_statement")
    if str(body.setdefault("id", statement_id)).lower() != str(statement_id).lower():
        raise BadRequest("the statement's id differs from statementId", "invalid_statement_id")
    try:
        result = use_case.execute([body])
    except StatementConflict as error:
        return _conflict(error)
    except InvalidStatements as error:
        raise error.of_one() from None
    _counted(result)
    stored = Response(status=204)
    del stored.headers["Content-Type"]  # no body, so no type (Flask would say text/html)
    return stored


@bp.get("/about")
@documented("The xAPI versions this endpoint speaks", XapiAboutSchema, errors=(400,))
def about():  # type: ignore[no-untyped-def]
    no_query()
    return {"version": [VERSION]}
