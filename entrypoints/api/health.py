"""Liveness and readiness."""

from __future__ import annotations

from collections.abc import Callable

from dependency_injector.wiring import Provide, inject
from flask import Blueprint

from application.ports import UnitOfWork
from entrypoints.api.errors import error_response
from entrypoints.api.openapi import documented
from entrypoints.container import Container
from entrypoints.schemas import StatusSchema

bp = Blueprint("health", __name__)


@bp.get("/healthz")
@documented("The process is up", StatusSchema, storage=False)
def healthz():  # type: ignore[no-untyped-def]
    return {"status": "ok"}


@bp.get("/readyz")
@documented("The database answers", StatusSchema, errors=(503,))
@inject
def readyz(uow_factory: Callable[[], UnitOfWork] = Provide[Container.uow.provider]):  # type: ignore[no-untyped-def]
    try:
        with uow_factory() as uow:
            uow.ping()
    except Exception as error:  # noqa: BLE001 - any storage failure means "not ready"
        return error_response(503, "not_ready", f"database unreachable: {type(error).__name__}")
    return {"status": "ready"}
