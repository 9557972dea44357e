"""All tables. Each area adds its own module here and imports it below, so migrations see it."""

from db.models.adapters import StaffCard, StaffEditRequest
from db.models.calendar import Post, PostRun
from db.models.core import (
    AppMeta,
    AuditLog,
    Contact,
    Conversation,
    Draft,
    Feedback,
    Message,
    StageTransition,
    User,
)
from db.models.crisis import CrisisFeed, Incident, IncidentAlert, IncidentMessage, IncidentNote
from db.models.playbooks import (
    AfterHoursAck,
    Assignment,
    Handoff,
    Proposal,
    StaffNotice,
    Ticket,
)
from db.models.reliability import LoginFailure
from db.models.scheduler import apscheduler_jobs
from db.models.security import ConsoleSession
from db.models.sync import Redraft, StateVersion

__all__ = [
    "AppMeta",
    "AuditLog",
    "ConsoleSession",
    "Contact",
    "Conversation",
    "Draft",
    "Feedback",
    "LoginFailure",
    "Message",
    "Post",
    "PostRun",
    "StageTransition",
    "User",
    "StaffCard",
    "StaffEditRequest",
    "apscheduler_jobs",
    # playbooks
    "AfterHoursAck",
    "Assignment",
    "Handoff",
    "Proposal",
    "StaffNotice",
    "Ticket",
    # crisis
    "CrisisFeed",
    "Incident",
    "IncidentAlert",
    "IncidentMessage",
    "IncidentNote",
    # several processes
    "Redraft",
    "StateVersion",
]
