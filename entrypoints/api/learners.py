"""Learner erasure (GDPR article 17, FERPA requests): forget one learner everywhere."""

from __future__ import annotations

from dependency_injector.wiring import Provide, inject
from flask import Blueprint

from application.use_cases.erase_learner import EraseLearner
from domain.model import UserId
from entrypoints.api.auth import admin_required
from entrypoints.api.http import no_query
from entrypoints.api.openapi import documented
from entrypoints.container import Container
from entrypoints.xapi_schemas import ErasureSchema

bp = Blueprint("learners", __name__, url_prefix="/api/v1/learners")


@bp.delete("/<id:user_id>")
@documented(
    "Erase a learner's events, slates, impressions and attributions",
    ErasureSchema,
    errors=(400, 401, 403),
)
@admin_required
@inject
def erase(user_id: str, use_case: EraseLearner = Provide[Container.erase_learner]):  # type: ignore[no-untyped-def]
    no_query()
    erasure = use_case.execute(UserId(user_id))
    return {
        "user_id": user_id,
        "erased_at": erasure.erased_at.isoformat(),
        "removed": dict(erasure.counts),
    }
