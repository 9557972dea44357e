"""Plain words for the codes the pipeline stores (stages, commenter types, roles, ...), in the
current language. An unknown code is shown as it is rather than hidden."""

from __future__ import annotations

from bot.i18n.catalog import gettext, pgettext
from db.enums import DraftStatus, IncidentStatus, PostRunStatus, PostStatus, ProposalStatus


def stage_label(stage: str | None) -> str:
    labels = {
        "identification": pgettext("stage", "New contact"),
        "relationship": pgettext("stage", "Regular"),
        "collaboration": pgettext("stage", "Partner"),
    }
    return labels.get(stage or "", stage or "")


def stage_help(stage: str | None) -> str:
    helps = {
        "identification": pgettext("stage", "Just getting to know the brand"),
        "relationship": pgettext("stage", "Comes back and talks with us often"),
        "collaboration": pgettext("stage", "Helps, suggests and takes part with us"),
    }
    return helps.get(stage or "", "")


def type_label(kind: str | None) -> str:
    labels = {
        "troll": pgettext("commenter type", "Troll"),
        "complaint": pgettext("commenter type", "Complaint"),
        "advocate": pgettext("commenter type", "Fan"),
        "question": pgettext("commenter type", "Question"),
        "other": pgettext("commenter type", "Other"),
    }
    return labels.get(kind or "", kind or "")


def subtype_label(subtype: str | None) -> str:
    labels = {
        "angry": pgettext("complaint", "Angry"),
        "unhappy": pgettext("complaint", "Unhappy"),
        "misled": pgettext("complaint", "Felt misled"),
    }
    return labels.get(subtype or "", subtype or "")


def draft_source_label(playbook: str | None) -> str:
    """Where a draft came from ("complaint/angry", a playbook key) in words: the commenter type
    and the complaint's kind; a crisis statement and the empty write-your-own slot by name."""
    kind, _, variant = (playbook or "").partition("/")
    if kind == "crisis":
        return pgettext("draft source", "Crisis statement")
    if kind == "manual":
        return pgettext("draft source", "Write your own")
    if type_label(kind) == kind:
        return playbook or ""
    return " · ".join(part for part in (type_label(kind), section_label(variant)) if part)


def section_label(section: str | None) -> str:
    """A playbook section's subtype and stage in words ("angry@relationship": Angry · Regular);
    "default", "answer" and other codes that are neither say nothing."""
    parts = []
    for code in (section or "").split("@"):
        words = subtype_label(code)
        if words == code:
            words = stage_label(code)
        if words != code:
            parts.append(words)
    return " · ".join(parts)


def language_label(language: str | None) -> str:
    labels = {
        "zh-Hant": pgettext("language", "Traditional Chinese"),
        "zh-Hans": pgettext("language", "Simplified Chinese"),
        "en": pgettext("language", "English"),
        "other": pgettext("language", "Other"),
    }
    return labels.get(language or "", language or "")


def role_label(role: str | None) -> str:
    labels = {
        "agent": pgettext("role", "Agent"),
        "supervisor": pgettext("role", "Supervisor"),
        "admin": pgettext("role", "Admin"),
    }
    return labels.get(role or "", role or "")


def channel_label(channel: str | None) -> str:
    labels = {
        "telegram": "Telegram",
        "line": "LINE",
        "web": pgettext("channel", "Web chat"),
    }
    return labels.get(channel or "", channel or "")


def flag_label(flag: str | None) -> str:
    labels = {
        "crisis": pgettext("flag", "crisis"),
        "handoff": pgettext("flag", "wants a person"),
        "repeat_troll": pgettext("flag", "repeat troll"),
    }
    return labels.get(flag or "", (flag or "").replace("_", " "))


def audit_action_label(action: str | None) -> str:
    """What an audit log line records, in words (the stored code stays in the CSV export)."""
    labels = {
        "approve": pgettext("audit", "Approved"),
        "edit": pgettext("audit", "Approved with edits"),
        "reject": pgettext("audit", "Rejected a draft"),
        "reply": pgettext("audit", "Wrote a reply"),
        "no_reply": pgettext("audit", "No reply"),
        "claim": pgettext("audit", "Claimed"),
        "assign": pgettext("audit", "Assigned"),
        "release": pgettext("audit", "Released a claim"),
        "correct_type": pgettext("audit", "Corrected the type"),
        "correct_subtype": pgettext("audit", "Corrected the complaint subtype"),
        "correct_stage": pgettext("audit", "Corrected the stage"),
        "release_handoff": pgettext("audit", "Ended a handoff"),
        "proposal_status": pgettext("audit", "Moved a proposal"),
        "notify_contributor": pgettext("audit", "Told the contributor"),
        "close_ticket": pgettext("audit", "Closed a ticket"),
        "auto_ack": pgettext("audit", "Acknowledged automatically"),
        "auto_approve": pgettext("audit", "Sent automatically"),
        "contact_export": pgettext("audit", "Exported a contact's data"),
        "contact_erase": pgettext("audit", "Erased a contact's data"),
        "message_unsend": pgettext("audit", "Customer took a message back"),
        "post_add": pgettext("audit", "Planned a post"),
        "post_approve": pgettext("audit", "Approved a post"),
        "post_cancel": pgettext("audit", "Cancelled a post"),
        "password_change": pgettext("audit", "Changed their password"),
        "user_add": pgettext("audit", "Added a user"),
        "user_change": pgettext("audit", "Changed a user"),
        "sessions_end": pgettext("audit", "Ended logins"),
        "playbooks_reload": pgettext("audit", "Reloaded the playbooks"),
    }
    return labels.get(action or "", (action or "").replace("_", " "))


def via_label(via: str | None) -> str:
    """Where a decision was made: the console, a staff chat, the command line, or the bot."""
    labels = {
        "console": pgettext("via", "Console"),
        "cli": pgettext("via", "Command line"),
        "auto": pgettext("via", "Automatic"),
    }
    return labels.get(via or "") or channel_label(via)


def proposal_status_label(status: str | None) -> str:
    labels: dict[str, str] = {
        ProposalStatus.OPEN: pgettext("proposal", "New"),
        ProposalStatus.UNDER_REVIEW: pgettext("proposal", "Under review"),
        ProposalStatus.ADOPTED: pgettext("proposal", "Adopted"),
        ProposalStatus.DECLINED: pgettext("proposal", "Declined"),
    }
    return labels.get(status or "", (status or "").replace("_", " "))


def draft_status_label(status: str | None) -> str:
    """Where a reply draft stands, for the console and the command line."""
    labels: dict[str, str] = {
        DraftStatus.PENDING: gettext("waiting for review"),
        DraftStatus.APPROVED: gettext("approved"),
        DraftStatus.EDITED: gettext("approved with edits"),
        DraftStatus.REJECTED: gettext("rejected"),
        DraftStatus.SENT: gettext("sent"),
        DraftStatus.FAILED: gettext("failed"),
        DraftStatus.SUPERSEDED: gettext("replaced"),
        DraftStatus.WITHDRAWN: pgettext("draft", "withdrawn"),
    }
    return labels.get(status or "", status or "")


def incident_status_label(status: str | None) -> str:
    labels: dict[str, str] = {
        IncidentStatus.OPEN: pgettext("status", "open"),
        IncidentStatus.ACKNOWLEDGED: pgettext("status", "acknowledged"),
        IncidentStatus.RESOLVED: pgettext("status", "resolved"),
    }
    return labels.get(status or "", status or "")


def post_status_label(status: str | None) -> str:
    """A post's status, or one run's (sending)."""
    labels: dict[str, str] = {
        PostStatus.PLANNED: pgettext("post", "needs approval"),
        PostStatus.APPROVED: pgettext("post", "approved"),
        PostRunStatus.SENDING: pgettext("post", "sending"),
        PostStatus.SENT: pgettext("post", "sent"),
        PostStatus.FAILED: pgettext("post", "failed"),
        PostStatus.MISSED: pgettext("post", "missed"),
        PostStatus.CANCELLED: pgettext("post", "cancelled"),
    }
    return labels.get(status or "", status or "")
