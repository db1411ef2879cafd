"""The document says which fields every response carries: a generated client may rely on them."""

from __future__ import annotations

from typing import Any

from tests.e2e.conftest import make_app

COURSE = {
    "course_id",
    "title",
    "description",
    "category",
    "level",
    "tags",
    "prerequisites",
    "active",
}
ITEM = {"course_id", "title", "score", "rank"}  # reason: only with explain=true
JOB = {
    "job_id",
    "kind",
    "status",
    "status_url",
    "submitted_at",
    "started_at",
    "finished_at",
    "worker",
    "attempts",
    "result",
}  # error: only for a job that failed
HOME = "/api/v1/recommendations/home"
GLOBAL = "/api/v1/recommendations/stats/global"
MODELS = "/admin/recommendations/models"

#: (path, method, status, the properties walked to a nested object) -> its required fields
REQUIRED: dict[tuple[str, str, str, tuple[str, ...]], set[str]] = {
    (HOME, "get", "200", ()): {"user_id", "strategy", "items"},
    (HOME, "get", "200", ("items",)): ITEM,
    ("/api/v1/recommendations/similar/{course_id}", "get", "200", ()): {
        "course_id",
        "strategy",
        "items",
    },
    ("/api/v1/recommendations/similar/{course_id}", "get", "200", ("items",)): ITEM,
    ("/api/v1/courses", "get", "200", ()): {"items", "total"},
    ("/api/v1/courses", "get", "200", ("items",)): COURSE,
    ("/api/v1/courses", "post", "200", ()): {"upserted"},
    ("/api/v1/courses/{course_id}", "get", "200", ()): COURSE,
    ("/api/v1/courses/{course_id}", "put", "200", ()): COURSE,
    ("/api/v1/courses/{course_id}", "patch", "200", ()): COURSE,
    ("/api/v1/interactions", "post", "200", ()): {"accepted", "duplicates", "ignored"},
    ("/api/v1/recommendations/stats/user/{user_id}", "get", "200", ()): {
        "user_id",
        "num_recommendations",
        "num_impressions",
        "num_clicks",
        "num_enrolls",
        "ctr",
        "top_categories",
    },
    ("/api/v1/recommendations/stats/user/{user_id}", "get", "200", ("top_categories",)): {
        "category",
        "count",
    },
    (GLOBAL, "get", "200", ()): {
        "days",
        "ctr",
        "most_popular_courses",
        "strategy_distribution",
        "strategy_ctr",
        "daily",
    },
    (GLOBAL, "get", "200", ("most_popular_courses",)): {"course_id", "title", "enrolls", "clicks"},
    (GLOBAL, "get", "200", ("daily",)): {
        "date",
        "recommendations",
        "impressions",
        "clicks",
        "enrolls",
        "ctr",
    },
    (MODELS, "get", "200", ()): {"latest_erasure", "tuning", "models", "trainers"},
    (MODELS, "get", "200", ("models",)): {"strategy", "loaded"},
    (MODELS, "get", "200", ("models", "tuning")): {"settings", "validation", "pinned", "in_use"},
    (MODELS, "get", "200", ("trainers",)): {
        "worker",
        "started_at",
        "seen_at",
        "last_cycle",
        "status",
        "pinned",
    },
    (MODELS, "get", "200", ("tuning",)): {
        "version",
        "tuned_at",
        "data_version",
        "seconds",
        "budget_seconds",
        "budget_exhausted",
        "learners",
        "trial_learners",
    },
    ("/admin/recommendations/reindex", "post", "202", ()): JOB,
    ("/admin/recommendations/reindex", "post", "409", ("error",)): {
        "code",
        "message",
        "job_id",
        "status",
        "status_url",
    },
    ("/admin/recommendations/jobs/{job_id}", "get", "200", ()): JOB,
    ("/admin/recommendations/bandit", "get", "200", ()): {
        "policy",
        "version",
        "counted_until",
        "arms",
    },
    ("/admin/recommendations/bandit", "get", "200", ("arms",)): {
        "strategy",
        "pulls",
        "reward_sum",
        "mean_reward",
        "selection_probability",
        "new_learner_probability",
        "last_update",
    },
    ("/api/v1/learners/{user_id}", "delete", "200", ()): {"user_id", "erased_at", "removed"},
    ("/api/v1/xapi/about", "get", "200", ()): {"version"},
    ("/healthz", "get", "200", ()): {"status"},
    ("/readyz", "get", "200", ()): {"status"},
    (HOME, "get", "400", ()): {"error"},
    (HOME, "get", "400", ("error",)): {"code", "message"},
    (HOME, "get", "400", ("error", "problems")): {"index", "field", "message"},
}


def _resolve(spec: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    """The object a schema names: through $ref, allOf (a described $ref), a nullable anyOf and
    an array's items."""
    while True:
        if "$ref" in schema:
            schema = spec["components"]["schemas"][schema["$ref"].rpartition("/")[2]]
        elif "allOf" in schema or "anyOf" in schema:
            schema = (schema.get("allOf") or schema["anyOf"])[0]
        elif schema.get("type") == "array":
            schema = schema["items"]
        else:
            return schema


def test_each_response_requires_the_fields_it_always_carries(sqlite_url):
    spec = make_app(sqlite_url).test_client().get("/openapi.json").json
    wrong = {}
    for (path, method, status, walk), expected in REQUIRED.items():
        response = spec["paths"][path][method]["responses"][status]
        schema = _resolve(spec, response["content"]["application/json"]["schema"])
        for name in walk:
            schema = _resolve(spec, schema["properties"][name])
        if set(schema.get("required", [])) != expected:
            wrong[path, method, status, walk] = sorted(schema.get("required", []))
    assert not wrong


def test_what_is_sometimes_absent_stays_optional(sqlite_url):
    spec = make_app(sqlite_url).test_client().get("/openapi.json").json
    content = spec["paths"][HOME]["get"]["responses"]["200"]["content"]
    home = _resolve(spec, content["application/json"]["schema"])
    sometimes = {"recommendation_id", "fallback_from", "model_version", "selected_by", "degraded"}
    assert sometimes <= set(home["properties"]) - set(home.get("required", []))


def test_a_course_sent_still_needs_only_its_id_and_title(sqlite_url):
    """The response's course requires every field; the course a request sends does not."""
    app = make_app(sqlite_url)
    client = app.test_client()
    spec = client.get("/openapi.json").json
    body = spec["paths"]["/api/v1/courses"]["post"]["requestBody"]["content"]
    sent = _resolve(spec, body["application/json"]["schema"])
    assert set(_resolve(spec, sent["properties"]["courses"])["required"]) == {"course_id", "title"}
    put = spec["paths"]["/api/v1/courses/{course_id}"]["put"]["requestBody"]["content"]
    assert set(_resolve(spec, put["application/json"]["schema"])["required"]) == {"title"}
    response = client.post("/api/v1/courses", json={"courses": [{"course_id": "c1", "title": "A"}]})
    assert response.status_code == 200, response.json
    response = client.put("/api/v1/courses/c2", json={"title": "B"})
    assert response.status_code == 200 and set(response.json) == COURSE
