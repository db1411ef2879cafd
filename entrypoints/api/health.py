"""Liveness and readiness."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime

from dependency_injector.wiring import Provide, inject
from flask import Blueprint

from application.ports import StorageUnavailable, UnitOfWork
from application.strategies import StrategyRegistry
from application.trainer import FORGET_AFTER
from entrypoints.api.errors import error_response
from entrypoints.api.openapi import documented
from entrypoints.container import Container
from entrypoints.schemas import StatusSchema

bp = Blueprint("health", __name__)
log = logging.getLogger(__name__)
RETRY_AFTER = "5"


@bp.get("/healthz")
@documented("The process is up", StatusSchema, storage=False)
def healthz():  # type: ignore[no-untyped-def]
    return {"status": "ok"}


@bp.get("/readyz")
@documented(
    "Ready: the database answers, the catalog has courses and every strategy has a published "
    "version loaded",
    StatusSchema,
    errors=(503,),
)
@inject
def readyz(  # type: ignore[no-untyped-def]
    uow_factory: Callable[[], UnitOfWork] = Provide[Container.uow.provider],
    strategies: StrategyRegistry = Provide[Container.strategies],
    models_store: str = Provide[Container.config.models_store],
):
    try:
        with uow_factory() as uow:
            uow.ping()
            # a read-only database answers every read: only a write says it would fail
            problem = uow.schema_problem() or uow.write_problem()
        if problem:
            return _not_ready(problem)
        snapshot = strategies.snapshot()
    except StorageUnavailable as error:
        # The driver's words name hosts, ports, roles and databases: for the log (a line per
        # probe, beside its access line), not for whoever can reach /readyz.
        log.warning("not ready: database unreachable: %s", error or type(error).__name__)
        return _not_ready("database unreachable (the server's log says why)")
    except Exception as error:  # noqa: BLE001 - not ready, rather than a 500
        # not called a database outage: the operator would look in the wrong place
        log.exception("not ready: the readiness check failed")
        return _not_ready(f"{type(error).__name__} while checking (the server's log says why)")
    if not snapshot.courses:
        # every list would be empty: a fresh database not loaded yet, or the wrong one
        return _not_ready(
            "the catalog has no courses: import them (`recsys import-courses`, "
            "POST /api/v1/courses)"
        )
    missing = snapshot.missing()
    if missing:
        # a version that failed its checks is not "not published yet": say what failed
        # once each: a store refusing this host's role says the same of every strategy
        rejected = list(dict.fromkeys(snapshot.errors[n] for n in missing if n in snapshot.errors))
        unpublished = [name for name in missing if name not in snapshot.errors]
        absent = strategies.artifacts.absent()
        elsewhere = _published_elsewhere(uow_factory, unpublished, strategies)
        if unpublished and absent:
            # on a web host the trainers' shared volume may be missing, not the trainers: the
            # path is for the log, as the database's address is
            log.warning("not ready: the models folder %s does not exist on this host", absent)
            rejected.append(_absent_said(unpublished, elsewhere))
        elif elsewhere:
            # an empty mount point of the shared volume (the folder is there, and empty), or
            # trainers keeping their models in the other store than this host
            log.warning(
                "not ready: trainers published %s, and this host's models store (%s, "
                "RS_MODELS_STORE=%s) has no version of them",
                ", ".join(elsewhere),
                strategies.artifacts.location(),
                models_store,
            )
            rejected.append(_published_elsewhere_said(unpublished, elsewhere, models_store))
        elif unpublished:
            rejected.append(
                f"no published version of {', '.join(unpublished)} yet "
                "(is `recsys trainer` running?)"
            )
        return _not_ready("; ".join(rejected), missing=missing)
    return {"status": "ready"}


def _published_elsewhere(
    uow_factory: Callable[[], UnitOfWork], names: list[str], strategies: StrategyRegistry
) -> list[str]:
    """Of `names`, with no version in this host's artifact store, those a trainer seen lately
    says it published: into another folder than this host's."""
    here = [name for name in names if strategies.artifacts.current_version(name) is None]
    if not here:
        return []
    try:
        with uow_factory() as uow:
            beats = uow.trainers.recent(datetime.now(UTC) - FORGET_AFTER)
    except Exception:  # noqa: BLE001 - a better message only: never a 500 of /readyz
        log.warning("not ready: could not read the trainers seen lately", exc_info=True)
        return []
    return [n for n in here if any(b.tally.fits.get((n, "published")) for b in beats)]


def _absent_said(unpublished: list[str], elsewhere: list[str]) -> str:
    said = f"no published version of {', '.join(unpublished)}: the models folder (RS_MODELS_DIR) "
    if not elsewhere:
        return (
            said + "does not exist on this host, so no trainer has published into it (a shared "
            "volume not mounted here? the server's log names it)"
        )
    # without a shared volume a web host keeps no folder: the store differs, not the mount
    return (
        said + f"does not exist on this host, though a trainer has published "
        f"{', '.join(elsewhere)}: a shared volume not mounted here, or trainers keeping their "
        "models in the database (set RS_MODELS_STORE alike on every host)? the server's log "
        "names the folder"
    )


def _published_elsewhere_said(unpublished: list[str], elsewhere: list[str], store: str) -> str:
    missing, published = ", ".join(unpublished), ", ".join(elsewhere)
    if store == "database":
        return (
            f"no published version of {missing} in the database (RS_MODELS_STORE=database on "
            f"this host), though a trainer has published {published}: the trainers keep their "
            "models in a folder (set RS_MODELS_STORE alike on every host)"
        )
    return (
        f"no published version of {missing} in this host's models folder (RS_MODELS_DIR), "
        f"though a trainer has published {published}: it is not the folder the trainers "
        "publish into (a shared volume not mounted here, or trainers keeping their models in "
        "the database, RS_MODELS_STORE=database? the server's log names it)"
    )


def _not_ready(message: str, **details: object):  # type: ignore[no-untyped-def]
    response = error_response(503, "not_ready", message, **details)
    response[0].headers["Retry-After"] = RETRY_AFTER
    return response
