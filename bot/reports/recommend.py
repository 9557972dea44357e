"""Improvement recommendations derived from a report's numbers, each with the numbers behind
it, most pressing first. There is always at least one. Their sentences are written from the
recommendation's kind and words (bot.reports.wording), so each reader gets them in their own
language; report.json carries them in English."""

from __future__ import annotations

from bot.i18n import use_locale
from bot.reports import wording

MIN_TURNS_PER_HOUR = 3  # an hour needs this many answered turns before we judge it
MIN_EDITS = 2
EDIT_RATE = 0.3
COMPLAINT_SHARE = 0.15
MIN_IDENTIFICATION = 10


def _rec(priority: int, area: str, kind: str, words: dict, **numbers) -> dict:
    """A recommendation: `kind` and `words` are what its sentences are written from (in the
    reader's language, bot.reports.wording); `numbers` are the figures behind it."""
    return {
        "priority": priority,
        "area": area,
        "kind": kind,
        "words": words,
        "numbers": numbers,
    }


def _slowest_hour(r: dict) -> dict | None:
    hours = [h for h in r["by_hour"] if h["turns"] >= MIN_TURNS_PER_HOUR]
    if not hours or r["median_minutes"] is None:
        return None
    slow = max(hours, key=lambda h: (h["median_minutes"], h["turns"]))
    over_target = slow["median_minutes"] > r["target_minutes"]
    much_slower = len(hours) > 1 and slow["median_minutes"] >= 1.5 * max(r["median_minutes"], 1)
    if not (over_target or much_slower):
        return None
    hour = slow["hour"]
    return _rec(
        1 if over_target else 3,
        "responses",
        "slow_hour",
        {
            "hour": hour,
            "median": slow["median_minutes"],
            "turns": slow["turns"],
            "overall": r["median_minutes"],
            "target": r["target_minutes"],
        },
        hour=hour,
        median_minutes=slow["median_minutes"],
        turns=slow["turns"],
        overall_median_minutes=r["median_minutes"],
        target_minutes=r["target_minutes"],
    )


def _unanswered(r: dict) -> dict | None:
    if not r["unanswered"]:
        return None
    return _rec(
        1,
        "responses",
        "unanswered",
        {"unanswered": r["unanswered"], "turns": r["turns"]},
        unanswered=r["unanswered"],
        turns=r["turns"],
    )


def _faq_gap(d: dict) -> dict | None:
    if not d["faq_gaps"]:
        return None
    top = d["faq_gaps"][0]
    return _rec(
        2,
        "drafts",
        "faq_gap",
        {
            "topic": top["topic"],
            "holding": d["holding_replies"],
            "sent": d["sent_replies"],
            "topics": [[g["topic"], g["questions"]] for g in d["faq_gaps"][:3]],
        },
        holding_replies=d["holding_replies"],
        sent_replies=d["sent_replies"],
        topic=top["topic"],
        questions=top["questions"],
    )


def _edited_playbook(d: dict) -> dict | None:
    candidates = [
        (name, p)
        for name, p in d["by_playbook"].items()
        if p["edited"] >= MIN_EDITS and (p["edit_rate"] or 0) >= EDIT_RATE
    ]
    if not candidates:
        return None
    name, p = max(candidates, key=lambda c: (c[1]["edit_rate"], c[1]["edited"], c[0]))
    used = p["approved_as_is"] + p["edited"]
    return _rec(
        2,
        "drafts",
        "edited_playbook",
        {"playbook": name, "edited": p["edited"], "approved": used, "rate": p["edit_rate"]},
        playbook=name,
        edited=p["edited"],
        approved=used,
        edit_rate=p["edit_rate"],
    )


def _complaints(c: dict) -> dict | None:
    share, before = c["share"] or 0, c["previous_share"]
    rising = before is not None and c["total"] >= 5 and share >= before * 1.3 and share > before
    if c["total"] < 3 or not (share >= COMPLAINT_SHARE or rising):
        return None
    subtype, count = next(iter(c["by_subtype"].items()))
    return _rec(
        1 if rising else 2,
        "complaints",
        "complaints",
        {
            "total": c["total"],
            "share": share,
            "before": before if rising else None,
            "subtype": subtype,
            "count": count,
        },
        complaints=c["total"],
        share=share,
        previous_share=before,
        subtype=subtype,
        subtype_count=count,
    )


def _conversion(s: dict) -> dict | None:
    first = s["conversion"]["identification"]
    if first["contacts"] < MIN_IDENTIFICATION or (first["rate"] or 0) >= 0.05:
        return None
    return _rec(
        3,
        "stages",
        "conversion",
        {"moved_up": first["moved_up"], "contacts": first["contacts"], "rate": first["rate"]},
        contacts=first["contacts"],
        moved_up=first["moved_up"],
        rate=first["rate"],
    )


def _post_problems(p: dict) -> dict | None:
    if not p["problems"]:
        return None
    failed = sum(x["status"] == "failed" for x in p["problems"])
    missed = len(p["problems"]) - failed
    return _rec(
        1,
        "posts",
        "post_problems",
        {"failed": failed, "missed": missed},
        failed=failed,
        missed=missed,
    )


def _best_goal(p: dict) -> dict | None:
    goals = {g: v for g, v in p["by_stage_goal"].items() if v["posts"] >= 2}
    if len(goals) < 2:
        return None
    best = max(goals, key=lambda g: goals[g]["engagement_per_post"])
    worst = min(goals, key=lambda g: goals[g]["engagement_per_post"])
    if goals[best]["engagement_per_post"] <= goals[worst]["engagement_per_post"]:
        return None
    return _rec(
        3,
        "posts",
        "best_goal",
        {
            "best": best,
            "best_per_post": goals[best]["engagement_per_post"],
            "best_posts": goals[best]["posts"],
            "worst": worst,
            "worst_per_post": goals[worst]["engagement_per_post"],
            "worst_posts": goals[worst]["posts"],
        },
        best_goal=best,
        best_per_post=goals[best]["engagement_per_post"],
        worst_goal=worst,
        worst_per_post=goals[worst]["engagement_per_post"],
    )


def _fallback(report: dict) -> dict:
    """Something useful from the numbers even in a quiet or healthy period."""
    volume, r = report["messages"], report["responses"]
    if not volume["total"]:
        return _rec(3, "messages", "no_messages", {}, messages=0)
    if r["median_minutes"] is not None and r["median_minutes"] <= r["target_minutes"]:
        return _rec(
            4,
            "responses",
            "good_pace",
            {
                "median": r["median_minutes"],
                "p90": r["p90_minutes"],
                "target": r["target_minutes"],
                "share": r["within_target_share"],
                "answered": r["answered"],
            },
            median_minutes=r["median_minutes"],
            p90_minutes=r["p90_minutes"],
            target_minutes=r["target_minutes"],
            within_target_share=r["within_target_share"],
        )
    kind, count = next(iter(volume["by_type"].items()))
    return _rec(
        4,
        "messages",
        "prepare_content",
        {"type": kind, "count": count, "total": volume["total"]},
        type=kind,
        count=count,
        messages=volume["total"],
    )


def recommend(report: dict) -> list[dict]:
    found = [
        _unanswered(report["responses"]),
        _slowest_hour(report["responses"]),
        _post_problems(report["posts"]),
        _complaints(report["complaints"]),
        _faq_gap(report["drafts"]),
        _edited_playbook(report["drafts"]),
        _conversion(report["stages"]),
        _best_goal(report["posts"]),
    ]
    recs = [r for r in found if r] or [_fallback(report)]
    with use_locale("en"):  # report.json keeps the sentences in English; pages say them anew
        for rec in recs:
            rec.update(wording.recommendation(rec))
    return sorted(recs, key=lambda r: r["priority"])
