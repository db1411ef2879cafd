"""OpenAPI 3 from the marshmallow schemas: views declare their contract with @documented."""

from __future__ import annotations

import copy
import re
from collections.abc import Callable
from typing import Any

from apispec import APISpec
from apispec.ext.marshmallow import MarshmallowPlugin
from flask import Flask
from marshmallow import Schema

from entrypoints.api.api_keys import GATED
from entrypoints.api.api_keys import HEADER as API_KEY_HEADER
from entrypoints.schemas import ID_RULE, PATH_IDS, ErrorSchema
from entrypoints.wsgi import HEADER_FIELD_LIMIT, REQUEST_LINE_LIMIT

ERROR_DESCRIPTIONS = {
    400: "Invalid input",
    401: "Missing credentials",
    403: "Wrong credentials",
    404: "Not found",
    409: "Conflict",
    413: "Body too large (the message names the limit)",
    414: f"The request line is longer than gunicorn takes ({REQUEST_LINE_LIMIT} bytes): a very long URL",
    415: "The body is not application/json, is sent compressed (Content-Encoding), or names a charset the service does not know",
    429: "Too many wrong credentials from this address lately (see Retry-After)",
    431: f"A request header is larger than gunicorn takes ({HEADER_FIELD_LIMIT} bytes)",
    503: "The database is unavailable (see Retry-After)",
}
#: Why any operation with an id ending its path may answer 404 (entrypoints.api.http)
TYPED_SLASH = (
    'for an id ending in a plain "/", read as a typo (an id ending in "/" sends it as %2F)'
)
#: What gunicorn refuses before the app sees the request, whatever the operation (entrypoints/wsgi.py).
SERVER_ERRORS = (414, 431)
RETRY_AFTER = {
    "Retry-After": {"description": "seconds to wait before retrying", "schema": {"type": "integer"}}
}
SECURITY_SCHEMES = {
    "apiKey": {
        "type": "apiKey",
        "in": "header",
        "name": API_KEY_HEADER,
        "description": "One of RS_API_KEY's keys: /api/v1 needs one when it is set",
    },
    "apiKeyBearer": {
        "type": "http",
        "scheme": "bearer",
        "description": "One of RS_API_KEY's keys, as Authorization: Bearer",
    },
    "adminToken": {
        "type": "http",
        "scheme": "bearer",
        "description": "RS_ADMIN_TOKEN: admin endpoints, catalog writes and erasures (without "
        "one, in dev, these answer requests made on the server's machine only); it also "
        "stands in for an API key",
    },
    "adminSession": {
        "type": "apiKey",
        "in": "cookie",
        "name": "recsys_session",
        "description": "The dashboard's session, set by signing in at /dashboard/login "
        "and ended on every host by signing out",
    },
    "xapiBasic": {
        "type": "http",
        "scheme": "basic",
        "description": "RS_XAPI_KEY and RS_XAPI_SECRET, as LRS clients send them",
    },
}
#: Path parameters checked as ids; any other is a string.
PATH_RULES: dict[str, dict[str, Any]] = dict.fromkeys(PATH_IDS, ID_RULE)


def documented(
    summary: str,
    response: type[Schema] | None = None,
    status: int = 200,
    query: type[Schema] | None = None,
    body: type[Schema] | None = None,
    errors: tuple[int, ...] = (),
    storage: bool = True,
    headers: tuple[dict[str, Any], ...] = (),
    error_bodies: dict[int, type[Schema]] | None = None,
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Attach an OpenAPI operation to a view function; `headers` are header parameters,
    `error_bodies` the schemas of errors that say more than ErrorSchema's code and message.

    A JSON body can always be too large (413) or of the wrong type (415); an operation that
    reads or writes the database can always meet it unavailable (503 with Retry-After).
    """
    errors = tuple(
        sorted(set(errors) | ({413, 415} if body else set()) | ({503} if storage else set()))
    )

    def attach(view: Callable[..., Any]) -> Callable[..., Any]:
        operation: dict[str, Any] = {"summary": summary, "responses": {}}
        parameters = [{"in": "header", **header} for header in headers]
        if query is not None:
            parameters.append({"in": "query", "schema": query})
        if parameters:
            operation["parameters"] = parameters
        if body is not None:
            operation["requestBody"] = {
                "required": True,
                "content": {"application/json": {"schema": body}},
            }
        operation["responses"][str(status)] = {
            "description": summary,
            **({"content": {"application/json": {"schema": response}}} if response else {}),
        }
        for code in errors:
            operation["responses"][str(code)] = _error(
                ERROR_DESCRIPTIONS[code], (error_bodies or {}).get(code, ErrorSchema)
            )
        if 503 in errors:
            operation["responses"]["503"]["headers"] = RETRY_AFTER
        view.openapi = operation  # type: ignore[attr-defined]
        return view

    return attach


def throttled() -> dict[str, Any]:
    """The answer to an address that sent too many wrong credentials (entrypoints.api.throttle)."""
    return {**_error(ERROR_DESCRIPTIONS[429]), "headers": RETRY_AFTER}


def _error(description: str, schema: type[Schema] = ErrorSchema) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def build_spec(app: Flask) -> dict[str, Any]:
    spec = APISpec(
        title="Course recommendation service",
        version="1.0.0",
        openapi_version="3.0.3",
        plugins=[MarshmallowPlugin()],
    )
    paths: dict[str, dict[str, Any]] = {}
    for rule in app.url_map.iter_rules():
        view = app.view_functions[rule.endpoint]
        operation = getattr(view, "openapi", None)
        if operation is None:
            continue
        path = re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", r"{\1}", rule.rule)
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            op = copy.deepcopy(operation)  # apispec resolves schemas in place
            for code in SERVER_ERRORS:
                op["responses"].setdefault(str(code), _error(ERROR_DESCRIPTIONS[code]))
            needs = getattr(view, "credentials", None)  # admin and xAPI say their 401 and 403
            op["security"] = _security(app, rule.endpoint, needs)
            if {} not in op["security"]:
                for code in (401, 403) if needs is None else ():
                    op["responses"][str(code)] = _error(ERROR_DESCRIPTIONS[code])
                op["responses"]["429"] = throttled()
            names = re.findall(r"{([^}]+)}", path)
            if names and names[-1] in PATH_IDS:  # the id routes take the rest of the path
                if "404" in op["responses"]:
                    op["responses"]["404"]["description"] += f"; also {TYPED_SLASH}"
                else:  # an unknown id is no 404 here (a PUT creates it, a learner has no stats)
                    op["responses"]["404"] = _error(f"Only {TYPED_SLASH}")
            if names:
                op["parameters"] = [
                    {
                        "in": "path",
                        "name": n,
                        "required": True,
                        "schema": {"type": "string", **PATH_RULES.get(n, {})},
                    }
                    for n in names
                ] + op.get("parameters", [])
            op["responses"] = dict(sorted(op["responses"].items()))
            paths.setdefault(path, {})[method.lower()] = op
    for name, scheme in SECURITY_SCHEMES.items():
        spec.components.security_scheme(name, scheme)
    for path, operations in sorted(paths.items()):
        spec.path(path=path, operations=operations)
    return spec.to_dict()


def _security(app: Flask, endpoint: str, credentials: str | None) -> list[dict[str, list[str]]]:
    """Who may call the operation: {} is anyone (no API key configured, or none needed)."""
    admin: list[dict[str, list[str]]] = [{"adminToken": []}, {"adminSession": []}]
    if credentials == "admin":
        return admin
    if credentials == "xapi":
        return [{"xapiBasic": []}, *admin]
    if endpoint.partition(".")[0] not in GATED:
        return [{}]
    keyed = [{"apiKey": []}, {"apiKeyBearer": []}, *admin]
    return keyed if app.config.get("RS_API_KEYS") else [*keyed, {}]
