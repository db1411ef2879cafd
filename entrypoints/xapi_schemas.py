"""What the OpenAPI document says about the xAPI and learner-erasure endpoints."""

from __future__ import annotations

from marshmallow import Schema, fields

STATEMENT_IDS = {"type": "array", "items": {"type": "string", "format": "uuid"}}


class XapiAccountSchema(Schema):
    homePage = fields.String(required=True)  # noqa: N815 - the xAPI property name
    name = fields.String(required=True)


class XapiActorSchema(Schema):
    objectType = fields.String(metadata={"description": "Agent (default) or Group"})  # noqa: N815
    name = fields.String()
    mbox = fields.String(metadata={"description": "mailto: IRI; stored only as its SHA-1"})
    mbox_sha1sum = fields.String()
    openid = fields.String()
    account = fields.Nested(XapiAccountSchema)


class XapiVerbSchema(Schema):
    id = fields.String(required=True, metadata={"description": "verb IRI"})
    display = fields.Dict()


class XapiObjectSchema(Schema):
    objectType = fields.String(metadata={"description": "Activity (default) or StatementRef"})  # noqa: N815
    id = fields.String(required=True, metadata={"description": "activity IRI or statement UUID"})
    definition = fields.Dict()


class XapiStatementSchema(Schema):
    """The statement properties we read; any other xAPI property is accepted and kept out."""

    id = fields.UUID()
    actor = fields.Nested(XapiActorSchema, required=True)
    verb = fields.Nested(XapiVerbSchema, required=True)
    object = fields.Nested(XapiObjectSchema, required=True)
    timestamp = fields.String(metadata={"description": "ISO 8601 with a time zone"})
    context = fields.Dict(metadata={"description": "contextActivities.parent/grouping are read"})


class StatementIdQuerySchema(Schema):
    """PUT's one parameter in xAPI 1.0.3 (POST and about take none)."""

    statementId = fields.String(  # noqa: N815 - the xAPI parameter name
        required=True, metadata={"description": "the statement's UUID"}
    )


class XapiAboutSchema(Schema):
    version = fields.List(fields.String())


class ErasureSchema(Schema):
    user_id = fields.String()
    erased_at = fields.String()
    removed = fields.Dict(
        keys=fields.String(),
        values=fields.Integer(),
        metadata={"description": "events, slates, impressions, statements, attributions"},
    )
