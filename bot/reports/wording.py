"""A report's words in the reader's language: the recommendations' sentences, written from
each one's kind and figures, and plain names for the codes a report counts by (moods, draft
decisions, statuses, incident timeline steps)."""

from __future__ import annotations

from bot.i18n import gettext as _
from bot.i18n import (
    incident_status_label,
    pgettext,
    post_status_label,
    stage_label,
    subtype_label,
    type_label,
)
from db.enums import IncidentStatus


def pct(value: float | None) -> str:
    return _("n/a") if value is None else f"{value * 100:.0f}%"


def number(value: float | None) -> str:
    return _("n/a") if value is None else f"{value:g}"


def quoted(text: str) -> str:
    return _("“%(text)s”") % {"text": text}


def kind_label(kind: str | None) -> str:
    """A commenter type, or "not classified" for messages without one."""
    return (
        pgettext("commenter type", "Not classified") if kind == "unclassified" else type_label(kind)
    )


def mood_label(mood: str) -> str:
    labels = {
        "positive": pgettext("sentiment", "positive"),
        "neutral": pgettext("sentiment", "neutral"),
        "negative": pgettext("sentiment", "negative"),
    }
    return labels.get(mood, mood)


def decision_label(decision: str) -> str:
    labels = {
        "approved_as_is": pgettext("draft decision", "approved as is"),
        "edited": pgettext("draft decision", "edited"),
        "rejected": pgettext("draft decision", "rejected"),
        "sent_automatically": pgettext("draft decision", "sent automatically"),
    }
    return labels.get(decision, decision)


def status_label(status: str | None) -> str:
    """Incident, proposal and post statuses (a proposal's "open" reads as an incident's)."""
    proposals = {
        "under_review": pgettext("status", "under review"),
        "adopted": pgettext("status", "adopted"),
        "declined": pgettext("status", "declined"),
    }
    if status in proposals:
        return proposals[status]
    if status in {s.value for s in IncidentStatus}:
        return incident_status_label(status)
    return post_status_label(status)


def timeline_step(event: dict) -> str:
    """One step of an incident's timeline, as the report's reader says it."""
    step = event.get("event")
    if step == "opened":
        return _("opened")
    if step == "acknowledged":
        return _("acknowledged")
    if step == "resolved":
        return _("resolved")
    if step == "alert":
        text = _("alert round %(round)s to %(recipient)s") % event
        return text if event.get("delivered") else _("%(alert)s (not delivered)") % {"alert": text}
    if step == "note":
        by = {"by": event["by"]}
        done = {
            "note": _("note by %(by)s"),
            "acknowledge": _("acknowledged by %(by)s"),
            "resolve": _("resolved by %(by)s"),
        }.get(event["action"], event["action"] + " · %(by)s")
        line = done % by
        return (
            _("%(line)s: %(text)s") % {"line": line, "text": event["text"]}
            if event["text"]
            else line
        )
    return event.get("what", "")


def minutes(value: float | None) -> str:
    """'37.5 min' / '37.5 分鐘'; just 'n/a' when there is no figure."""
    return _("n/a") if value is None else _("%(minutes)s min") % {"minutes": f"{value:g}"}


def _hours(hour: int) -> str:
    return f"{hour:02d}:00–{hour + 1:02d}:00"


def recommendation(rec: dict) -> dict[str, str]:
    """The title, evidence and action of a recommendation, in the current language."""
    w = rec["words"]
    write = _WRITERS[rec["kind"]]
    title, evidence, action = write(w)
    return {"title": title, "evidence": evidence, "action": action}


def _slow_hour(w: dict) -> tuple[str, str, str]:
    hours = _hours(w["hour"])
    return (
        _("Answer faster between %(hours)s") % {"hours": hours},
        _(
            "Customers who wrote between %(hours)s waited a median %(median)s for a first reply "
            "(%(turns)s conversations), against %(overall)s overall and a target of %(target)s."
        )
        % {
            "hours": hours,
            "median": minutes(w["median"]),
            "turns": w["turns"],
            "overall": minutes(w["overall"]),
            "target": minutes(w["target"]),
        },
        _(
            "Put someone on the review queue at that hour, or let a supervisor approve drafts "
            "from Telegram then."
        ),
    )


def _unanswered(w: dict) -> tuple[str, str, str]:
    return (
        _("Answer the conversations left without a reply"),
        _(
            "%(unanswered)s of %(turns)s customer conversations opened in the period got no "
            "reply at all."
        )
        % w,
        _("Work through the pending drafts oldest first; reject with a reason what needs none."),
    )


def _faq_gap(w: dict) -> tuple[str, str, str]:
    topics = _(", ").join(
        _("%(topic)s (%(questions)s)") % {"topic": quoted(topic), "questions": questions}
        for topic, questions in w["topics"]
    )
    return (
        _("Add an FAQ answer about %(topic)s") % {"topic": quoted(w["topic"])},
        _(
            "%(holding)s of %(sent)s sent replies only promised an answer later; the questions "
            "behind them cluster on %(topics)s."
        )
        % {"holding": w["holding"], "sent": w["sent"], "topics": topics},
        _("Write the answer once in the playbooks so the next question gets it straight away."),
    )


def _edited_playbook(w: dict) -> tuple[str, str, str]:
    return (
        _("Rewrite the templates of playbook %(playbook)s") % w,
        _(
            "Reviewers edited %(edited)s of %(approved)s approved drafts from %(playbook)s "
            "(%(rate)s) before sending."
        )
        % {**w, "rate": pct(w["rate"])},
        _("Compare the edits in the audit log with the templates and fold the common changes in."),
    )


def _complaints(w: dict) -> tuple[str, str, str]:
    subtype = subtype_label(w["subtype"])
    figures = {"total": w["total"], "share": pct(w["share"]), "count": w["count"]}
    if w["before"] is None:
        evidence = _(
            "%(total)s messages were complaints (%(share)s of all); %(subtype)s: %(count)s."
        )
    else:
        evidence = _(
            "%(total)s messages were complaints (%(share)s of all, up from %(before)s the period "
            "before); %(subtype)s: %(count)s."
        )
    return (
        _("Look into the complaints: %(subtype)s") % {"subtype": subtype},
        evidence % {**figures, "subtype": subtype, "before": pct(w["before"])},
        _("Read them together, fix the common cause, and brief the team on the complaint policy."),
    )


def _conversion(w: dict) -> tuple[str, str, str]:
    return (
        _("Give first-time contacts a reason to come back"),
        _("Only %(moved_up)s of %(contacts)s contacts at the %(stage)s stage moved on (%(rate)s).")
        % {**w, "stage": stage_label("identification"), "rate": pct(w["rate"])},
        _(
            "Schedule posts with the %(stage)s goal (stories, member benefits) and answer first "
            "questions warmly with an invitation to follow."
        )
        % {"stage": stage_label("relationship")},
    )


def _post_problems(w: dict) -> tuple[str, str, str]:
    return (
        _("Fix the posts that did not go out"),
        _("Scheduled posts that failed: %(failed)s; missed: %(missed)s.") % w,
        _("Check the channel credentials and that a replyline process was running at post time."),
    )


def _best_goal(w: dict) -> tuple[str, str, str]:
    best, worst = stage_label(w["best"]), stage_label(w["worst"])
    return (
        _("Learn from the posts for %(stage)s contacts") % {"stage": best},
        _(
            "Posts for %(best)s contacts drew %(best_per_post)s reactions and replies beyond the "
            "usual each (%(best_posts)s posts); posts for %(worst)s contacts drew "
            "%(worst_per_post)s (%(worst_posts)s posts)."
        )
        % {
            **w,
            "best": best,
            "worst": worst,
            "best_per_post": number(w["best_per_post"]),
            "worst_per_post": number(w["worst_per_post"]),
        },
        _("Reuse what worked in them for the posts for %(stage)s contacts.") % {"stage": worst},
    )


def _no_messages(w: dict) -> tuple[str, str, str]:
    return (
        _("Check the channels are connected"),
        _("No customer messages arrived in this period."),
        _(
            "Confirm the Telegram and LINE webhooks reach replyline, and plan posts that invite "
            "questions."
        ),
    )


def _good_pace(w: dict) -> tuple[str, str, str]:
    return (
        _("Keep the reply pace and raise the bar"),
        _(
            "The median first reply took %(median)s (p90 %(p90)s) against a target of "
            "%(target)s; %(share)s of %(answered)s conversations met it."
        )
        % {
            "median": minutes(w["median"]),
            "p90": minutes(w["p90"]),
            "target": minutes(w["target"]),
            "share": pct(w["share"]),
            "answered": w["answered"],
        },
        _("Hold the pace and consider a tighter target for the slowest tenth."),
    )


def _prepare_content(w: dict) -> tuple[str, str, str]:
    kind = kind_label(w["type"])
    return (
        _("Prepare content for messages of the type %(type)s") % {"type": kind},
        _("%(count)s of %(total)s messages (%(share)s) were of the type %(type)s.")
        % {**w, "type": kind, "share": pct(w["count"] / w["total"])},
        _("Plan posts and playbook answers that meet these messages before they arrive."),
    )


_WRITERS = {
    "slow_hour": _slow_hour,
    "unanswered": _unanswered,
    "faq_gap": _faq_gap,
    "edited_playbook": _edited_playbook,
    "complaints": _complaints,
    "conversion": _conversion,
    "post_problems": _post_problems,
    "best_goal": _best_goal,
    "no_messages": _no_messages,
    "good_pace": _good_pace,
    "prepare_content": _prepare_content,
}
