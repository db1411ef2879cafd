"""Marshmallow schemas of the analytics endpoints and the dashboard."""

from __future__ import annotations

from marshmallow import Schema, fields, validate


class DaysQuerySchema(Schema):
    days = fields.Integer(load_default=30, validate=validate.Range(1, 365))


class DashboardQuerySchema(DaysQuerySchema):
    refresh = fields.Integer(
        load_default=0,
        validate=validate.Range(0, 3600),
        metadata={"description": "reload the page every this many seconds (0: never)"},
    )


class CategoryCountSchema(Schema):
    category = fields.String()
    count = fields.Integer()


class UserStatsSchema(Schema):
    user_id = fields.String()
    num_recommendations = fields.Integer(metadata={"description": "slates served"})
    num_impressions = fields.Integer(metadata={"description": "courses shown in those slates"})
    num_clicks = fields.Integer(metadata={"description": "clicks attributed to a served slate"})
    num_enrolls = fields.Integer(
        metadata={"description": "enrolments attributed to a served slate"}
    )
    ctr = fields.Float(metadata={"description": "attributed clicks / impressions"})
    top_categories = fields.List(fields.Nested(CategoryCountSchema))


class PopularCourseSchema(Schema):
    course_id = fields.String()
    title = fields.String()
    enrolls = fields.Integer()
    clicks = fields.Integer()


class DailySchema(Schema):
    date = fields.String()
    recommendations = fields.Integer()
    impressions = fields.Integer()
    clicks = fields.Integer()
    enrolls = fields.Integer()
    ctr = fields.Float()


class GlobalStatsSchema(Schema):
    days = fields.Integer()
    ctr = fields.Float()
    most_popular_courses = fields.List(fields.Nested(PopularCourseSchema))
    strategy_distribution = fields.Dict(keys=fields.String(), values=fields.Float())
    strategy_ctr = fields.Dict(keys=fields.String(), values=fields.Float())
    daily = fields.List(fields.Nested(DailySchema))
