"""Table definitions; Alembic migrations are written from these."""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    false,
    func,
    text,
)

metadata = MetaData()

# SQLite only auto-increments a column declared exactly INTEGER PRIMARY KEY.
BigId = BigInteger().with_variant(Integer(), "sqlite")

courses = Table(
    "courses",
    metadata,
    Column("course_id", String(128), primary_key=True),
    Column("title", Text, nullable=False),
    Column("description", Text, nullable=False, default=""),
    Column("category", String(128), nullable=False, default=""),
    Column("level", String(16), nullable=False),
    Column("tags", JSON, nullable=False),
    Column("prerequisites", JSON, nullable=False),
    Column("active", Boolean, nullable=False, default=True),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    Index("ix_courses_category_level", "category", "level"),
)

# The catalog's version: one row, its revision raised by a trigger on courses (migration 0009) in
# every transaction that writes them, whoever writes. The newest updated_at could not say it:
# stamped by many hosts' clocks and committed in any order, a change could land below the newest
# stamp, and no worker would load it.
catalog_revision = Table(
    "catalog_revision",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("revision", BigInteger, nullable=False),
)

interactions = Table(
    "interactions",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("event_id", String(128), nullable=False, unique=True),
    Column("user_id", String(128), nullable=False),
    Column("course_id", String(128), nullable=False),
    Column("event_type", String(16), nullable=False),
    Column("occurred_at", DateTime(timezone=True), nullable=False),
    Column("recommendation_id", String(64), nullable=True),
    # When the list it is credited to was served (None: credited to none), set by a trigger
    # whoever writes the event: a stats window's credited events are found by their list's time
    # (migration 0012).
    Column("list_served_at", DateTime(timezone=True), nullable=True),
    Index("ix_interactions_user_time", "user_id", "occurred_at"),
    Index("ix_interactions_course_type", "course_id", "event_type"),
    Index("ix_interactions_occurred_at", "occurred_at"),
    Index("ix_interactions_recommendation", "recommendation_id"),
    # The popular courses of a stats window (the dashboard's, every minute): the window's clicks
    # and enrolments read from the index alone. With occurred_at alone, a window holding a
    # fifth of the events made PostgreSQL read the whole table (migration 0010).
    Index("ix_interactions_type_time_course", "event_type", "occurred_at", "course_id"),
    # The events credited to lists alone, with what a stats window's figures need: each of the
    # window's lists looks its events up here, and no event's row is read (migration 0011).
    Index(
        "ix_interactions_credited",
        "recommendation_id",
        "user_id",
        "course_id",
        "event_type",
        sqlite_where=text("recommendation_id IS NOT NULL"),
        postgresql_where=text("recommendation_id IS NOT NULL"),
    ),
    # The same, by when their list was served: a window's credited events are a range of it,
    # however long the history before the window (migration 0012).
    Index(
        "ix_interactions_credited_by_list_time",
        "list_served_at",
        "recommendation_id",
        "user_id",
        "course_id",
        "event_type",
        sqlite_where=text("list_served_at IS NOT NULL"),
        postgresql_where=text("list_served_at IS NOT NULL"),
    ),
)

slates = Table(
    "slates",
    metadata,
    Column("recommendation_id", String(64), primary_key=True),
    Column("user_id", String(128), nullable=False),
    Column("strategy", String(32), nullable=False),
    Column("fallback_from", String(32), nullable=True),
    Column("model_version", String(64), nullable=True),
    Column("served_at", DateTime(timezone=True), nullable=False),
    Column("impressions", Integer, nullable=False, server_default="0"),
    Column("selected_by", String(16), nullable=True),
    Index("ix_slates_user", "user_id"),
    Index("ix_slates_served_at", "served_at"),
    Index("ix_slates_served_strategy", "served_at", "strategy"),
)

# Each closed day's figures, counted once by the trainer, so a stats window reads days rather
# than events (migration 0013): per UTC day and strategy, that day's lists and impressions and the
# clicks and enrolments they earned. They are read for a day only while daily_figures_counted
# holds the count of changes daily_figure_changes holds (triggers add a row for each write to a
# list or credited event of a day at least two days old): a day changed since is counted from
# events. Rows are added, never updated, so writers to the same days never wait on each other
# (one counter per day made concurrent late clicks wait, and deadlock); a store sums a day's.
daily_figures = Table(
    "daily_figures",
    metadata,
    Column("day", Date, primary_key=True),
    Column("strategy", String(32), primary_key=True),
    Column("recommendations", BigInteger, nullable=False),
    Column("impressions", BigInteger, nullable=False),
    Column("clicks", BigInteger, nullable=False),
    Column("enrolls", BigInteger, nullable=False),
)
daily_figures_counted = Table(
    "daily_figures_counted",
    metadata,
    Column("day", Date, primary_key=True),
    Column("changes", BigInteger, nullable=False),
    # the day's lists were removed (RS_LIST_RETENTION_DAYS): its figures stay as stored, whatever
    # changes later (an erasure of a learner it credited), since nothing is left to count them from
    Column("final", Boolean, nullable=False, server_default=false()),
)
daily_figure_changes = Table(
    "daily_figure_changes",
    metadata,
    Column("day", Date, nullable=False),
    Column("changes", BigInteger, nullable=False),
    Index("ix_daily_figure_changes_day", "day"),
)

slate_items = Table(
    "slate_items",
    metadata,
    Column(
        "recommendation_id",
        String(64),
        ForeignKey("slates.recommendation_id", ondelete="CASCADE"),
        primary_key=True,
    ),
    Column("rank", Integer, primary_key=True),
    Column("course_id", String(128), nullable=False),
    Column("score", Float, nullable=False),
    Column("reason", Text, nullable=False, default=""),
    # Whether a list showed a course (credit counts only then), answered from the index.
    Index("ix_slate_items_course", "recommendation_id", "course_id"),
)

jobs = Table(
    "jobs",
    metadata,
    Column("job_id", String(64), primary_key=True),
    Column("kind", String(32), nullable=False),
    Column("status", String(16), nullable=False),
    Column("submitted_at", DateTime(timezone=True), nullable=False),
    Column("started_at", DateTime(timezone=True), nullable=True),
    Column("finished_at", DateTime(timezone=True), nullable=True),
    Column("heartbeat_at", DateTime(timezone=True), nullable=True),
    Column("worker", String(128), nullable=True),
    Column("attempts", Integer, nullable=False, server_default="0"),
    Column("result", JSON, nullable=True),
    Column("error", Text, nullable=True),
    Index("ix_jobs_status_submitted", "status", "submitted_at"),
    # One queued-or-running job per kind, enforced by the database for every host at once.
    Index(
        "uq_jobs_active_kind",
        "kind",
        unique=True,
        postgresql_where=text("status IN ('queued', 'running')"),
        sqlite_where=text("status IN ('queued', 'running')"),
    ),
)

# Each trainer's latest fit cycle (one row a trainer process): who is fitting, and how it went.
trainers = Table(
    "trainers",
    metadata,
    Column("worker", String(128), primary_key=True),
    Column("started_at", DateTime(timezone=True), nullable=False),
    Column("seen_at", DateTime(timezone=True), nullable=False),
    Column("last_cycle", Text, nullable=False),
    # its TrainerTally (fits and jobs counted since it started, its latest fit of each strategy)
    # and the settings it pins
    Column("tally", JSON, nullable=True),
    Index("ix_trainers_seen_at", "seen_at"),
)

# xAPI statements received: the id makes a retry a no-op; no e-mail address is ever kept.
xapi_statements = Table(
    "xapi_statements",
    metadata,
    Column("statement_id", String(36), primary_key=True),
    Column("content_hash", String(64), nullable=False),
    Column("user_id", String(128), nullable=True),
    Column("voids", String(36), nullable=True),
    Column("stored_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Index("ix_xapi_statements_user", "user_id"),
    # Partial: only voiding statements are indexed, so ordinary inserts write one index less.
    Index(
        "ix_xapi_statements_voids",
        "voids",
        sqlite_where=text("voids IS NOT NULL"),
        postgresql_where=text("voids IS NOT NULL"),
    ),
)

# Learners erased on request: a hash of the id, never the id itself.
erasures = Table(
    "erasures",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("user_hash", String(64), nullable=False),
    Column("erased_at", DateTime(timezone=True), nullable=False),
    Column("counts", JSON, nullable=False),
    Index("ix_erasures_user_hash", "user_hash"),
    Index("ix_erasures_erased_at", "erased_at"),
)

# Dashboard sessions: a hash of the session id (the signed cookie holds the id), never the id.
admin_sessions = Table(
    "admin_sessions",
    metadata,
    Column("session_hash", String(64), primary_key=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("expires_at", DateTime(timezone=True), nullable=False),
    Column("revoked_at", DateTime(timezone=True), nullable=True),
    Index("ix_admin_sessions_expires_at", "expires_at"),
)

# Wrong credentials per client (a hash of its address), for a minute: never what was sent.
credential_failures = Table(
    "credential_failures",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("client_hash", String(64), nullable=False),
    Column("failed_at", DateTime(timezone=True), nullable=False),
    Index("ix_credential_failures_client_failed_at", "client_hash", "failed_at"),
    Index("ix_credential_failures_failed_at", "failed_at"),
)

# Model artifacts kept in the database (RS_MODELS_STORE=database, migration 0014): every host
# reads the versions trainers publish without a shared volume. A version's rows are written
# before it is published and never changed after; `published` says it was made current once.
artifact_versions = Table(
    "artifact_versions",
    metadata,
    Column("name", String(64), primary_key=True),
    Column("version", String(64), primary_key=True),
    Column("manifest", Text, nullable=False),
    Column("published", Boolean, nullable=False),
    Column("staged_at", DateTime(timezone=True), nullable=False),
)
artifact_files = Table(
    "artifact_files",
    metadata,
    Column("name", String(64), primary_key=True),
    Column("version", String(64), primary_key=True),
    Column("filename", String(255), primary_key=True),
    #: a file in parts of at most 8 MiB: one statement never moves a whole model
    Column("part", Integer, primary_key=True),
    Column("data", LargeBinary, nullable=False),
)
artifact_current = Table(
    "artifact_current",
    metadata,
    Column("name", String(64), primary_key=True),
    Column("version", String(64), nullable=False),
    Column("since", DateTime(timezone=True), nullable=False),
)
