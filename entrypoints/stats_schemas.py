"""Marshmallow schemas of the analytics endpoints and the dashboard."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from entrypoints.schemas import QueryInteger


class DaysQuerySchema(Schema):
    days = QueryInteger(load_default=30, validate=validate.Range(1, 365))


class DashboardQuerySchema(DaysQuerySchema):
    refresh = QueryInteger(
        load_default=0,
        validate=validate.Range(0, 3600),
        metadata={"description": "reload the page every this many seconds (0: never)"},
    )


class CategoryCountSchema(Schema):
    category = fields.String(required=True)
    count = fields.Integer(
        required=True, metadata={"description": "the learner's events in its courses"}
    )


class UserStatsSchema(Schema):
    user_id = fields.String(required=True)
    num_recommendations = fields.Integer(required=True, metadata={"description": "slates served"})
    num_impressions = fields.Integer(
        required=True, metadata={"description": "courses shown in those slates"}
    )
    num_clicks = fields.Integer(
        required=True,
        metadata={
            "description": "courses of those slates the learner clicked or enrolled in "
            "(attributed events: a click-through), each course of a slate once"
        },
    )
    num_enrolls = fields.Integer(
        required=True,
        metadata={
            "description": "courses of those slates the learner enrolled in (attributed events), "
            "each course of a slate once"
        },
    )
    ctr = fields.Float(
        required=True, metadata={"description": "num_clicks / num_impressions, 0..1"}
    )
    top_categories = fields.List(fields.Nested(CategoryCountSchema), required=True)


class PopularCourseSchema(Schema):
    course_id = fields.String(required=True)
    title = fields.String(required=True)
    enrolls = fields.Integer(
        required=True, metadata={"description": "enrolment events in the window, all"}
    )
    clicks = fields.Integer(
        required=True, metadata={"description": "click events in the window, all"}
    )


class DailySchema(Schema):
    date = fields.String(
        required=True, metadata={"description": "the UTC day the slates were served"}
    )
    recommendations = fields.Integer(
        required=True, metadata={"description": "slates served that day"}
    )
    impressions = fields.Integer(required=True, metadata={"description": "courses shown in them"})
    clicks = fields.Integer(
        required=True,
        metadata={
            "description": "courses of those slates clicked or enrolled in, whenever, each once"
        },
    )
    enrolls = fields.Integer(
        required=True,
        metadata={"description": "courses of those slates enrolled in, whenever, each once"},
    )
    ctr = fields.Float(required=True, metadata={"description": "clicks / impressions, 0..1"})


class GlobalStatsSchema(Schema):
    days = fields.Integer(required=True)
    ctr = fields.Float(
        required=True,
        metadata={
            "description": "courses clicked or enrolled in / courses shown in the window's "
            "slates, 0..1"
        },
    )
    most_popular_courses = fields.List(fields.Nested(PopularCourseSchema), required=True)
    strategy_distribution = fields.Dict(keys=fields.String(), values=fields.Float(), required=True)
    strategy_ctr = fields.Dict(
        required=True,
        keys=fields.String(),
        values=fields.Float(),
        metadata={"description": "strategy -> the CTR of its slates in the window, 0..1"},
    )
    daily = fields.List(fields.Nested(DailySchema), required=True)
