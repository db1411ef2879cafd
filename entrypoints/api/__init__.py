"""Flask app factory: builds the container, registers blueprints and JSON error handlers."""

from __future__ import annotations

from typing import Any

from flask import Flask, jsonify
from werkzeug.middleware.proxy_fix import ProxyFix
from werkzeug.routing import PathConverter

from entrypoints import logs
from entrypoints.api import (
    admin,
    analytics,
    api_keys,
    courses,
    dashboard,
    health,
    interactions,
    learners,
    observability,
    recommendations,
    throttle,
    xapi,
)
from entrypoints.api.auth import configure_sessions, protect
from entrypoints.api.errors import register_error_handlers
from entrypoints.api.http import check_path_ids
from entrypoints.api.openapi import build_spec, documented
from entrypoints.config import checked_credentials, load_settings
from entrypoints.container import Container


class IdConverter(PathConverter):
    """The rest of the path as one id, "/" included, even leading (werkzeug's path converter
    refuses a leading one)."""

    # any character, newlines too (the id rule then refuses what it must), "/" at the end too:
    # whether it belongs to the id, check_path_ids decides
    regex = r"[\s\S]+"
    part_isolating = False  # set explicitly: werkzeug infers it from a "/" in the regex


def create_app(config: dict[str, Any] | None = None) -> Flask:
    settings = checked_credentials({**load_settings(), **(config or {})})
    container = Container()
    container.config.from_dict(settings)
    # Wired here, not on every Container(): a CLI's container must not take over the views.
    container.wire(packages=["entrypoints.api"])

    app = Flask(__name__)
    # Ids may hold "/" (an xAPI learner qualified by its LMS, "user7@https://lms.example", sent as
    # %2F): the id routes take the rest of the path, whatever it starts with, and "//" in it stays
    # as sent (merging it would redirect to another id).
    app.url_map.converters["id"] = IdConverter
    app.url_map.merge_slashes = False
    app.container = container  # type: ignore[attr-defined]
    app.config["MAX_CONTENT_LENGTH"] = settings["max_body_bytes"]
    if proxies := int(settings.get("trusted_proxies", 0)):
        # Each proxy appends the address it was sent the request from: the client's is the
        # proxies'th from the right, which the throttle counts and the access log shows. The
        # forwarding headers stay in request.headers, so a relayed request is still never one
        # made on this machine (auth._from_this_machine).
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=proxies, x_proto=0, x_host=0)  # type: ignore[method-assign]
    app.config["RS_ADMIN_TOKEN"] = settings["admin_token"]
    configure_sessions(
        app, settings["admin_token"], settings["env"] == "prod", container.admin_sessions()
    )
    app.config["RS_XAPI_KEY"] = settings["xapi_key"]
    app.config["RS_XAPI_SECRET"] = settings["xapi_secret"]
    container.xapi_mapping()  # a broken mapping file stops the start, not the first statement
    app.json.sort_keys = False  # type: ignore[attr-defined]
    for blueprint in (
        recommendations.bp,
        analytics.bp,
        interactions.bp,
        courses.bp,
        health.bp,
        admin.bp,
        dashboard.bp,
        xapi.bp,
        learners.bp,
    ):
        app.register_blueprint(blueprint)
    container.watch_answers(register_error_handlers(app).answered)
    throttle.install(app, container.failed_credentials())

    spec: list[dict] = []  # built at the first request, once every route is registered

    @app.get("/openapi.json")
    @documented("This OpenAPI document", storage=False)
    def openapi():  # type: ignore[no-untyped-def]
        # The routes and the configuration it describes do not change while the app runs;
        # built on every call it took 18 ms (3 ms served as built), on an open endpoint.
        if not spec:
            spec.append(build_spec(app))
        return jsonify(spec[0])

    openapi.openapi["responses"]["200"]["content"] = {  # type: ignore[attr-defined]
        "application/json": {"schema": {"type": "object"}}  # an OpenAPI 3.0 document
    }

    logs.configure(settings.get("log_format", "auto"), settings.get("log_level", "INFO"))
    observability.install(app)  # first: a request refused below still has its id and log line
    api_keys.install(app, settings["api_key"])
    app.after_request(protect)
    app.before_request(check_path_ids)  # after the key: nothing said to a caller without one
    return app
