"""Table definitions; Alembic migrations are written from these."""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
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
    Index("ix_interactions_user_time", "user_id", "occurred_at"),
    Index("ix_interactions_course_type", "course_id", "event_type"),
    Index("ix_interactions_occurred_at", "occurred_at"),
    Index("ix_interactions_recommendation", "recommendation_id"),
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
)
