"""Marshmallow schemas of the admin endpoints: models, tuning, trainers, jobs, explanations,
the bandit."""

from __future__ import annotations

from marshmallow import INCLUDE, Schema, fields, validate

from domain.model import Level
from entrypoints.schemas import Identifier, QueryBoolean, QueryInteger, Strategy, weights_field


class StrategyTuningSchema(Schema):
    settings = fields.Dict(
        required=True,
        metadata={
            "description": "the settings the last search chose (its trainer's pins included)"
        },
    )
    validation = fields.Dict(
        required=True,
        allow_none=True,
        metadata={
            "description": "figures on the validation part measured with exactly these settings, "
            "e.g. {'ndcg@10': 0.23} (none for pinned hybrid weights: they were not searched)"
        },
    )
    pinned = fields.Dict(
        required=True,
        metadata={"description": "settings the trainer that searched had pinned (not searched)"},
    )
    in_use = fields.Boolean(
        required=True,
        metadata={
            "description": "the model answering was fitted with these settings (the hybrid: "
            "blends with these weights), so the figures are its own; false after a pin set "
            "since or a rollback to a version fitted with others"
        },
    )


class ModelInfoSchema(Schema):
    class Meta:
        # Each recommender describes itself; the fields below are the ones known today.
        unknown = INCLUDE

    strategy = fields.String(required=True)
    loaded = fields.Boolean(required=True)
    version = fields.String(
        allow_none=True, metadata={"description": "the published version answering"}
    )
    trained_at = fields.String(allow_none=True)
    data_version = fields.String(
        allow_none=True, metadata={"description": "the catalog and events it was fitted on"}
    )
    source = fields.String(
        metadata={"description": "published, fallback (computed by the database) or none"}
    )
    embedding_dim = fields.Integer(
        metadata={
            "description": "per ensemble member, as configs/two_tower.yaml and show-config say"
        }
    )
    members = fields.Integer(metadata={"description": "ensemble members"})
    fitted_with = fields.Dict(
        allow_none=True,
        metadata={
            "description": "the settings the version answering was fitted with, from its "
            "manifest (null while nothing is published)"
        },
    )
    tuning = fields.Nested(
        StrategyTuningSchema,
        metadata={"description": "what the last settings search chose, apart from what answers"},
    )
    pinned_on_this_host = fields.Dict(
        metadata={
            "description": "settings this web host's environment pins: the hybrid's weights "
            "act here; the others act where a trainer runs with them"
        }
    )
    index_dim = fields.Integer(metadata={"description": "members × embedding_dim: the index width"})
    indexed_items = fields.Integer()
    index_type = fields.String()
    validation_metrics = fields.Dict(
        metadata={
            "description": "two_tower: validation_recall@10, members, epochs_run (the most "
            "epochs a member ran) and member_epochs (each one's)"
        }
    )
    objective = fields.String(metadata={"description": "what the model was trained to predict"})
    recency_decay = fields.Float(allow_none=True)
    errors = fields.List(fields.String())
    restores = fields.String(
        allow_none=True,
        metadata={
            "description": "the version an operator's rollback published again (recsys rollback)"
        },
    )
    held = fields.Boolean(
        metadata={"description": "rolled back: the trainer does not refit it until released"}
    )
    predates_erasure = fields.Boolean(
        allow_none=True,
        metadata={
            "description": "fitted on data read before the latest erasure that removed events "
            "(by the erasure mark the version recorded, not by clocks), so it still holds that "
            "learner"
        },
    )
    weights = fields.Dict(
        keys=fields.String(),
        values=fields.Float(),
        metadata={"description": "hybrid only: the weights this web worker blends with"},
    )
    active = fields.Dict(
        keys=fields.String(),
        values=fields.Float(),
        metadata={"description": "hybrid only: the components that answer, weights normalised"},
    )


class TuningSchema(Schema):
    version = fields.String(required=True, metadata={"description": "the published tuning version"})
    tuned_at = fields.String(required=True, allow_none=True)
    data_version = fields.String(
        required=True,
        allow_none=True,
        metadata={"description": "the catalog and events it was chosen on"},
    )
    seconds = fields.Float(
        required=True, allow_none=True, metadata={"description": "how long the search took"}
    )
    budget_seconds = fields.Float(
        required=True, allow_none=True, metadata={"description": "RS_TUNING_BUDGET_SECONDS"}
    )
    budget_exhausted = fields.Boolean(
        required=True, allow_none=True, metadata={"description": "the search stopped at its budget"}
    )
    learners = fields.Integer(
        required=True,
        allow_none=True,
        metadata={"description": "learners in the data it was chosen on"},
    )
    trial_learners = fields.Integer(
        required=True,
        allow_none=True,
        metadata={"description": "of them, those two_tower's trials fitted on (a share at scale)"},
    )


class TrainerSchema(Schema):
    worker = fields.String(required=True, metadata={"description": "host:pid"})
    started_at = fields.String(required=True)
    seen_at = fields.String(
        required=True,
        metadata={
            "description": "when its latest fit cycle ended (while a cycle fits, "
            "'started: fitting', when that fit began; once stopped, when it stopped)"
        },
    )
    last_cycle = fields.String(
        required=True,
        metadata={"description": "what that cycle did: published, failed, up to date"},
    )
    status = fields.String(
        required=True,
        metadata={
            "description": "its state in one line, as the dashboard shows it: fitting since, "
            "gone (seen fitting for over 2 minutes while no one holds the fitting turn, or "
            "before another trainer began fitting: killed, or its host is down), started, "
            "standing by, stopped, or when its last fit cycle ended and what it did"
        },
    )
    pinned = fields.Dict(
        keys=fields.String(),
        values=fields.Dict(keys=fields.String()),
        required=True,
        allow_none=True,
        metadata={
            "description": "the settings it pins, by strategy (none pinned: {}); null from a "
            "trainer of a release before 2026-12-01. Trainers that pin a setting differently "
            "refit each other's versions at every cycle (each says so in its log)"
        },
    )


class ModelsSchema(Schema):
    latest_erasure = fields.String(
        required=True,
        allow_none=True,
        metadata={"description": "when the latest erasure that removed events was"},
    )
    tuning = fields.Nested(
        TuningSchema,
        required=True,
        allow_none=True,
        metadata={"description": "the last search for settings on this deployment's data"},
    )
    models = fields.List(fields.Nested(ModelInfoSchema), required=True)
    trainers = fields.List(
        fields.Nested(TrainerSchema),
        required=True,
        metadata={"description": "the 20 trainers seen last in the last 7 days, latest first"},
    )
    degraded = fields.Boolean(
        metadata={
            "description": "true: the database did not answer, so the loaded models are shown "
            "from memory without the trainers (empty), latest_erasure and predates_erasure (null)"
        }
    )


class JobSchema(Schema):
    job_id = fields.String(required=True)
    kind = fields.String(required=True, metadata={"description": "reindex"})
    status = fields.String(
        required=True, metadata={"description": "queued, running, succeeded or failed"}
    )
    status_url = fields.String(required=True)
    submitted_at = fields.String(required=True)
    started_at = fields.String(required=True, allow_none=True)
    finished_at = fields.String(required=True, allow_none=True)
    worker = fields.String(
        required=True,
        allow_none=True,
        metadata={"description": "the trainer (host:pid) running it"},
    )
    attempts = fields.Integer(required=True)
    result = fields.Dict(required=True, allow_none=True)
    error = fields.String(allow_none=True)


class JobRunningBodySchema(Schema):
    code = fields.String(required=True, metadata={"description": "reindex_running"})
    message = fields.String(required=True)
    job_id = fields.String(
        required=True, metadata={"description": "the job of the kind queued or running"}
    )
    status = fields.String(required=True, metadata={"description": "queued or running"})
    status_url = fields.String(
        required=True, metadata={"description": "where any host follows that job (GET)"}
    )


class JobRunningSchema(Schema):
    """A second job of a kind while one is queued or running (409): that job, to follow."""

    error = fields.Nested(JobRunningBodySchema, required=True)


class ExplainQuerySchema(Schema):
    user_id = Identifier(required=True)
    course_id = Identifier(required=True)
    strategy = Strategy()
    strict_prerequisites = QueryBoolean(
        "removes, rather than demotes, courses whose prerequisites the learner has not taken"
    )
    k = QueryInteger(
        load_default=10,
        validate=validate.Range(1, 100),
        metadata={"description": "the length of the home list whose ranks are explained"},
    )
    category = fields.String(load_default=None, validate=validate.Length(1, 128))
    level = fields.Enum(Level, by_value=True, load_default=None)
    weights = weights_field(
        "the hybrid weights the home list was served with, e.g. two_tower:0.6,content:0.4 "
        "(they change the hybrid's entry only)"
    )


class StrategyExplanationSchema(Schema):
    strategy = fields.String(required=True)
    ready = fields.Boolean(required=True, metadata={"description": "a model is loaded"})
    score = fields.Float(
        allow_none=True,
        metadata={
            "description": "the strategy's raw score for the course (null when it has none, or "
            "the list never shows the course: see note)"
        },
    )
    rank = fields.Integer(
        allow_none=True,
        metadata={
            "description": "its rank among the courses the strategy may recommend (null for a "
            "course the learner took, an inactive one or one outside the filters)"
        },
    )
    reason = fields.String(
        allow_none=True,
        metadata={"description": "what the learner reads (would read, outside the list)"},
    )
    candidates = fields.Integer(
        metadata={"description": "courses handed to the ranking stage for a list of k"}
    )
    rules = fields.List(
        fields.String(),
        metadata={
            "description": "what the ranking stage did to the course, each rule once; first, "
            "for a candidate placed after the k-th, 'outside the list of k: ...'"
        },
    )
    final_rank = fields.Integer(
        allow_none=True,
        metadata={"description": "its place in the home list of k; null when it is not in it"},
    )
    note = fields.String(
        metadata={
            "description": "why there is no rank ('never shown to this learner: ...' for a "
            "course the list leaves out), or how the list is completed"
        }
    )


class ExplainSchema(Schema):
    user_id = fields.String(required=True)
    course_id = fields.String(required=True)
    title = fields.String(required=True)
    learner_events = fields.Integer(required=True)
    removed_by = fields.List(
        fields.String(),
        required=True,
        metadata={"description": "why a home list never shows the course, whatever the strategy"},
    )
    strategies = fields.List(fields.Nested(StrategyExplanationSchema), required=True)


class ArmSchema(Schema):
    strategy = fields.String(required=True)
    pulls = fields.Integer(required=True)
    reward_sum = fields.Float(required=True)
    mean_reward = fields.Float(required=True)
    selection_probability = fields.Float(
        required=True,
        metadata={
            "description": "How likely strategy=auto is to choose it for a learner every listed "
            "strategy can answer (it chooses among the strategies that can answer the learner)"
        },
    )
    new_learner_probability = fields.Float(
        required=True,
        metadata={
            "description": "How likely strategy=auto is to serve it to a learner with no "
            "history, whom only strategies that need none can answer (1 for the only one: no "
            "choice, so no pull of the bandit)"
        },
    )
    last_update = fields.String(required=True, allow_none=True)


class BanditSchema(Schema):
    policy = fields.String(required=True)
    version = fields.String(required=True, allow_none=True)
    unreadable = fields.String(
        metadata={
            "description": "Why no published version of the state can be read (damaged on "
            "disk): the arms are then empty until the next update counts every slate again"
        }
    )
    counted_until = fields.String(required=True, allow_none=True)
    arms = fields.List(fields.Nested(ArmSchema), required=True)
