from outage_notify.db.models.apikey import ApiKey
from outage_notify.db.models.base import Base
from outage_notify.db.models.customer import Customer, Erasure, OptOut, PushSubscription
from outage_notify.db.models.feed import (
    Feed,
    FeederLine,
    FeedItem,
    IngestLogEntry,
    WeatherWarning,
)
from outage_notify.db.models.inbound import InboundMessage
from outage_notify.db.models.incident import Incident, IncidentCustomer, IncidentRevision
from outage_notify.db.models.meta import AppMeta
from outage_notify.db.models.notification import Notification, OutboxItem
from outage_notify.db.models.report import OutageReport
from outage_notify.db.models.timeline import TimelineEvent
from outage_notify.db.models.user import User, WebSession
from outage_notify.db.models.work import JobRun, Lease, PlanningJob, SendPace

__all__ = [
    "ApiKey",
    "AppMeta",
    "Base",
    "Customer",
    "Erasure",
    "Feed",
    "FeedItem",
    "FeederLine",
    "InboundMessage",
    "Incident",
    "IncidentCustomer",
    "IncidentRevision",
    "IngestLogEntry",
    "JobRun",
    "Lease",
    "Notification",
    "OptOut",
    "OutageReport",
    "OutboxItem",
    "PlanningJob",
    "PushSubscription",
    "SendPace",
    "TimelineEvent",
    "User",
    "WeatherWarning",
    "WebSession",
]
