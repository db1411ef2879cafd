"""What the OpenAPI document says about the xAPI and learner-erasure endpoints."""

from __future__ import annotations

from marshmallow import INCLUDE, Schema, fields

STATEMENT_IDS = {"type": "array", "items": {"type": "string", "format": "uuid"}}


class XapiPartSchema(Schema):
    """A part of a statement: the properties we read are named; xAPI's others (and extensions) are
    accepted and not read, so the document allows them too."""

    class Meta:
        unknown = INCLUDE


class XapiAccountSchema(XapiPartSchema):
    homePage = fields.String(required=True)  # noqa: N815 - the xAPI property name
    name = fields.String(required=True)


class XapiActorSchema(XapiPartSchema):
    objectType = fields.String(metadata={"description": "Agent (default) or Group"})  # noqa: N815
    name = fields.String()
    mbox = fields.String(metadata={"description": "mailto: IRI; stored only as its SHA-1"})
    mbox_sha1sum = fields.String()
    openid = fields.String()
    account = fields.Nested(XapiAccountSchema)


class XapiVerbSchema(XapiPartSchema):
    id = fields.String(required=True, metadata={"description": "verb IRI"})
    display = fields.Dict()


class XapiObjectSchema(XapiPartSchema):
    objectType = fields.String(metadata={"description": "Activity (default) or StatementRef"})  # noqa: N815
    id = fields.String(required=True, metadata={"description": "activity IRI or statement UUID"})
    definition = fields.Dict()


class XapiStatementSchema(XapiPartSchema):
    """A statement: every property of xAPI 1.0.3; those not read are accepted and kept out."""

    id = fields.UUID()
    actor = fields.Nested(XapiActorSchema, required=True)
    verb = fields.Nested(XapiVerbSchema, required=True)
    object = fields.Nested(XapiObjectSchema, required=True)
    timestamp = fields.String(
        metadata={"description": "ISO 8601 with a time zone, at most RS_MAX_CLOCK_SKEW ahead"}
    )
    context = fields.Dict(metadata={"description": "contextActivities.parent/grouping are read"})
    result = fields.Dict(metadata={"description": "score, success, completion, ...: not read"})
    stored = fields.String(metadata={"description": "set by the LRS that stored it: not read"})
    authority = fields.Dict(metadata={"description": "the agent vouching for it: not read"})
    version = fields.String(metadata={"description": "the xAPI version, e.g. 1.0.3: not read"})
    attachments = fields.List(fields.Dict(), metadata={"description": "not read"})


#: POST takes one statement or an array of up to this many.
MAX_STATEMENTS = 1_000
STATEMENTS = {
    "oneOf": [
        XapiStatementSchema,
        {"type": "array", "items": XapiStatementSchema, "maxItems": MAX_STATEMENTS},
    ]
}


class StatementIdQuerySchema(Schema):
    """PUT's one parameter in xAPI 1.0.3 (POST and about take none)."""

    statementId = fields.String(  # noqa: N815 - the xAPI parameter name
        required=True, metadata={"description": "the statement's UUID", "format": "uuid"}
    )


class XapiAboutSchema(Schema):
    version = fields.List(fields.String(), required=True)


class ErasureSchema(Schema):
    user_id = fields.String(required=True)
    erased_at = fields.String(required=True)
    removed = fields.Dict(
        required=True,
        keys=fields.String(),
        values=fields.Integer(),
        metadata={"description": "events, slates, impressions, statements, attributions"},
    )
