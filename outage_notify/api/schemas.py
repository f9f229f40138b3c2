"""What the API answers, field by field: the response models of /openapi.json and /docs.

Handlers keep building plain dicts; FastAPI validates them through these models. The models
let unknown fields through at run time (a field a handler adds is never dropped, never a 500)
but document closed objects, so the schema test (schemathesis) fails until a new field is
described here.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, WithJsonSchema
from pydantic.json_schema import SkipJsonSchema

from outage_notify.incidents.model import IncidentKind, Status

# Times go out as the ISO 8601 strings the handlers make (offset included); declaring them as
# strings with a format keeps them byte for byte instead of re-serialising a datetime.
Timestamp = Annotated[str, WithJsonSchema({"type": "string", "format": "date-time"})]
Counts = dict[str, int]


class Out(BaseModel):
    model_config = ConfigDict(extra="allow", json_schema_extra={"additionalProperties": False})


# ---- customers ----------------------------------------------------------------------------------


class CustomerOut(Out):
    customer_id: str
    name: str | None
    address: str | None
    phone: str | None = Field(description="E.164")
    email: str | None
    language: str = Field(examples=["fi"])
    lat: float
    lon: float
    channels: list[str] | None = Field(
        description="The channels chosen; null means every channel the customer has an address for"
    )
    feeder: str | None
    transformer: str | None
    quiet_hours: str | None = Field(examples=["22:00-07:00"])
    priority: Literal["life_support", "critical_facility"] | None = Field(
        description="A priority customer (called first by operators); null: none"
    )
    created_at: Timestamp
    updated_at: Timestamp


class CustomerRejection(Out):
    index: int = Field(description="Position of the refused item in the list sent")
    error: str
    customer_id: SkipJsonSchema[None] | str = Field(
        None, description="The item's customer_id, when it has one (left out otherwise)"
    )


class ImportWarningOut(Out):
    customer_id: str
    warning: str = Field(description="Stored, but worth a look: e.g. far from all the others")


class CustomerUpsertOut(Out):
    created: int
    updated: int
    rejected: list[CustomerRejection]
    warnings: list[ImportWarningOut]


class CustomerSearchOut(Out):
    customers: list[CustomerOut]


class CustomerLinkOut(Out):
    token: str = Field(description="Signed customer link: Bearer token of the customer app routes")
    feed_url: str
    incident_id: str | None = Field(description="The incident the link is about, if any")
    expires_at: Timestamp | None = Field(
        description="When the link stops working; null for an incident's link while the "
        "incident is open (it then works until lifetime_days after the incident closes)"
    )
    lifetime_days: float = Field(
        description="How long the link lives: after it is made, or after its incident closes"
    )


class LinksRevokedOut(Out):
    customer_id: str
    revoked_at: Timestamp = Field(description="Every link made before this time is refused")


# ---- incidents ----------------------------------------------------------------------------------


class IncidentOut(Out):
    id: str
    source: str
    external_id: str
    kind: IncidentKind
    status: Status
    cause: str | None
    message: str | dict[str, str] | None
    area: dict[str, Any] | None = Field(description="GeoJSON geometry, [lon, lat]")
    feeders: list[str]
    transformers: list[str]
    etr: Timestamp | None
    starts_at: Timestamp | None
    ends_at: Timestamp | None
    started_at: Timestamp
    severity: str | None = Field(
        None, description="A weather warning's CAP severity: Minor, Moderate, Severe, Extreme"
    )
    version: int
    affected_customers: int
    planning: Literal["pending", "done"] = Field(
        description="pending while workers are still planning messages in the background"
    )
    notifications: Counts = Field(description="Notifications by status")
    created_at: Timestamp
    updated_at: Timestamp
    closed_at: Timestamp | None
    confirmed_at: Timestamp | None = Field(
        description="When customers could first be told; null while an outage from a feed "
        "is younger than CONFIRM_SECONDS (it may be a momentary cut)"
    )
    overdue: bool = Field(
        description="Open (detected, crew_assigned, in_progress) and its ETR has passed"
    )


class IncidentOutcomeOut(IncidentOut):
    """The incident after a post or patch, with what that call changed. Its messages are
    planned in the background: `planning` says whether that is done."""

    created: bool
    changes: list[str] = Field(description="NEW, ETR_CHANGED, STATUS_CHANGED, …")
    ignored_fields: SkipJsonSchema[None] | list[str] = Field(
        None, description="Fields of the body this API does not know (left out when none)"
    )


class IncidentListOut(Out):
    incidents: list[IncidentOut]


class RevisionOut(Out):
    version: int
    at: Timestamp
    actor: str = Field(
        description="Who or what made it: apikey:<name>, feed:<id>, rule:<name>",
        examples=["apikey:oms-bridge"],
    )
    changes: list[str] = Field(description="NEW, ETR_CHANGED, STATUS_CHANGED, …")
    snapshot: dict[str, Any] = Field(description="The incident as it stood at this version")


class RevisionsOut(Out):
    incident_id: str
    revisions: list[RevisionOut] = Field(description="Oldest first")
    next_after_version: int | None = Field(
        description="Pass as after_version for the next page; null when this page is the last"
    )


class PriorityCustomerOut(Out):
    customer_id: str
    name: str | None
    address: str | None
    phone: str | None = Field(description="E.164")
    priority: Literal["life_support", "critical_facility"]
    language: str = Field(examples=["fi"])


class PriorityCustomersOut(Out):
    incident_id: str
    customers: list[PriorityCustomerOut] = Field(
        description="Affected now: life_support first, then critical_facility, then by customer_id"
    )


class CustomerDetailOut(CustomerOut):
    push_subscriptions: int
    opted_out: list[str] = Field(description="Channels the customer has opted out of")
    current_incidents: list[IncidentOut]


# ---- timeline -----------------------------------------------------------------------------------


class TimelineStep(Out):
    at: Timestamp
    status: str | None
    reason: str | None


class TimelineEntry(Out):
    """One event. Incident events add `incident`; messages add the notification's fields and
    `history`; other events may add `data`. Fields that do not apply are left out."""

    at: Timestamp
    type: str
    incident_id: str | None
    channel: str | None
    kind: str | None
    body: str | None
    status: str | None
    reason: str | None
    incident: dict[str, Any] | None = None
    data: SkipJsonSchema[None] | dict[str, Any] = None
    notification_id: SkipJsonSchema[None] | int = None
    to: str | None = None
    subject: str | None = None
    language: SkipJsonSchema[None] | str = None
    provider: str | None = None
    provider_ref: str | None = None
    attempts: SkipJsonSchema[None] | int = None
    possible_duplicate: SkipJsonSchema[None] | bool = None
    sms_segments: int | None = None
    held_until: Timestamp | None = None
    sent_at: Timestamp | None = None
    delivered_at: Timestamp | None = None
    fallback_of: int | None = None
    history: SkipJsonSchema[None] | list[TimelineStep] = None


class TimelineOut(Out):
    customer_id: str
    events: list[TimelineEntry] = Field(description="Oldest first")


# ---- an agent's actions on a customer ---------------------------------------------------------


class In(BaseModel):
    model_config = ConfigDict(extra="forbid")


class NoteIn(In):
    text: str = Field(max_length=20_000, description="1–2,000 characters; line breaks kept")


class NoteOut(Out):
    customer_id: str
    at: Timestamp
    by: str
    text: str


class ReportIn(In):
    text: str = Field(
        "", max_length=20_000, description="What the caller sees, up to 500 characters; optional"
    )


class ReportOut(Out):
    id: int = Field(description="The report's id")
    customer_id: str
    at: Timestamp
    by: str
    text: str | None


class ResendIn(In):
    notification_id: int = Field(
        ge=1, le=2_147_483_647, description="One of the customer's messages"
    )
    channel: Literal["sms", "email", "push"] = Field(description="Another channel than its own")


class ResendOut(Out):
    customer_id: str
    notification_id: int = Field(description="The new message, queued")
    of: int = Field(description="The message sent again")
    channel: str
    to: str | None


class PreferencesIn(In):
    """Fields left out keep their value."""

    channels: list[str] | None = Field(None, max_length=3, description="Of sms, email, push")
    quiet_hours: str | None = Field(
        None, max_length=40, description="HH:MM-HH:MM (22:00-07:00), or empty for none"
    )
    language: str | None = Field(None, max_length=10, description="fi, sv or en")
    reason: str = Field(max_length=2_000, description="Why, as the customer asked (required)")


class PreferencesOut(Out):
    customer_id: str
    changes: dict[str, list[str | None]] = Field(description="Each field changed: [old, new]")


# ---- the customer app ---------------------------------------------------------------------------


class PushSubscriptionOut(Out):
    id: int
    customer_id: str


class FeedMessage(Out):
    id: int
    at: Timestamp
    incident_id: str | None
    kind: str
    title: str | None
    body: str


class FeedOut(Out):
    customer_id: str
    messages: list[FeedMessage] = Field(description="Newest first")


# ---- health -------------------------------------------------------------------------------------


class HealthOut(Out):
    status: Literal["ok"]


class JobRunOut(Out):
    runs: int
    last_started_at: Timestamp | None
    last_finished_at: Timestamp | None
    ok: bool | None = Field(description="whether the last run ended well; null while it runs")


class ClockOut(Out):
    """Who runs the sweeps, and how they last went. Informational: readiness does not depend
    on it (another process may well hold the lease)."""

    scheduler: Literal["running", "stopped", "disabled"] = Field(
        description="this process's scheduler"
    )
    lease: Literal["this process", "another process", "nobody"]
    jobs: dict[str, JobRunOut]


class ReadyOut(Out):
    """The same body with 200 (ready) and 503 (not ready)."""

    ready: bool
    checks: dict[str, str] = Field(
        description="database, migrations, dispatcher: ok, disabled, or what is wrong"
    )
    clock: ClockOut | None = Field(None, description="absent when the database is unreachable")


# ---- Twilio webhooks: form-encoded in, TwiML or nothing out -------------------------------------
# The handlers read the form themselves (the signature covers every field, so they need them all);
# these dicts only describe in /openapi.json what Twilio sends.

SIGNATURE_HEADER = {
    "name": "X-Twilio-Signature",
    "in": "header",
    "required": True,
    "schema": {"type": "string"},
    "description": "Base64 HMAC-SHA1 of PUBLIC_URL + path + query and the sorted form fields",
}


def twilio_form(properties: dict[str, str], required: list[str]) -> dict[str, Any]:
    """`openapi_extra` of a Twilio webhook: its form fields (Twilio sends more) and signature."""
    schema = {
        "type": "object",
        "properties": {
            name: {"type": "string", "description": d} for name, d in properties.items()
        },
        "required": required,
        "additionalProperties": {"type": "string"},
    }
    return {
        "parameters": [SIGNATURE_HEADER],
        "requestBody": {
            "required": True,
            "content": {"application/x-www-form-urlencoded": {"schema": schema}},
        },
    }


TWILIO_STATUS = twilio_form(
    {
        "MessageSid": "Twilio's id of the message",
        "MessageStatus": "queued, sent, delivered, undelivered, failed, …",
        "ErrorCode": "Twilio's error code, when the message failed",
    },
    ["MessageSid", "MessageStatus"],
)
TWILIO_STATUS["parameters"].append(
    {
        "name": "n",
        "in": "query",
        "required": False,
        "schema": {"type": "string", "pattern": "^[0-9]{1,18}$"},
        "description": "Our notification id, as given to Twilio in the StatusCallback URL",
    }
)
TWILIO_INBOUND = twilio_form(
    {
        "From": "The sender's phone number",
        "Body": "The text of the reply",
        "MessageSid": "Twilio's id of the message",
    },
    ["From"],
)
TWIML = {
    "description": "An empty TwiML answer (no reply message)",
    "content": {"application/xml": {"schema": {"type": "string"}}},
}
