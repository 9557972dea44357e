"""Improvement recommendations derived from a report's numbers, each with the numbers behind
it, most pressing first. There is always at least one."""

from __future__ import annotations

MIN_TURNS_PER_HOUR = 3  # an hour needs this many answered turns before we judge it
MIN_EDITS = 2
EDIT_RATE = 0.3
COMPLAINT_SHARE = 0.15
MIN_IDENTIFICATION = 10


def _pct(value: float | None) -> str:
    return "n/a" if value is None else f"{value * 100:.0f}%"


def _rec(priority: int, area: str, title: str, evidence: str, action: str, **numbers) -> dict:
    return {
        "priority": priority,
        "area": area,
        "title": title,
        "evidence": evidence,
        "action": action,
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
        f"Answer faster between {hour:02d}:00 and {hour + 1:02d}:00",
        f"Customers who wrote between {hour:02d}:00 and {hour + 1:02d}:00 waited a median "
        f"{slow['median_minutes']:g} min for a first reply ({slow['turns']} conversations), "
        f"against {r['median_minutes']:g} min overall and a target of {r['target_minutes']} min.",
        "Put someone on the review queue at that hour, or let a supervisor approve drafts "
        "from Telegram then.",
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
        "Answer the conversations left without a reply",
        f"{r['unanswered']} of {r['turns']} customer conversations opened in the period got no "
        "reply at all.",
        "Work through the pending drafts oldest first; reject with a reason what needs none.",
        unanswered=r["unanswered"],
        turns=r["turns"],
    )


def _faq_gap(d: dict) -> dict | None:
    if not d["faq_gaps"]:
        return None
    top = d["faq_gaps"][0]
    topics = ", ".join(f"“{g['topic']}” ({g['questions']})" for g in d["faq_gaps"][:3])
    return _rec(
        2,
        "drafts",
        f"Add an FAQ answer about “{top['topic']}”",
        f"{d['holding_replies']} of {d['sent_replies']} sent replies only promised an answer "
        f"later; the questions behind them cluster on {topics}.",
        "Write the answer once in the playbooks so the next question gets it straight away.",
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
        f"Rewrite the templates of playbook {name}",
        f"Reviewers edited {p['edited']} of {used} approved drafts from {name} "
        f"({_pct(p['edit_rate'])}) before sending.",
        "Compare the edits in the audit log with the templates and fold the common changes in.",
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
    trend = f", up from {_pct(before)} the period before" if rising else ""
    return _rec(
        1 if rising else 2,
        "complaints",
        f"Look into the {subtype} complaints",
        f"{c['total']} messages were complaints ({_pct(share)} of all{trend}); {count} of them "
        f"were {subtype}.",
        "Read them together, fix the common cause, and brief the team on the complaint policy.",
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
        "Give first-time contacts a reason to come back",
        f"Only {first['moved_up']} of {first['contacts']} contacts at the identification stage "
        f"moved on ({_pct(first['rate'])}).",
        "Schedule posts with the relationship goal (stories, member benefits) and answer "
        "first questions warmly with an invitation to follow.",
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
        "Fix the posts that did not go out",
        f"{failed} scheduled post(s) failed and {missed} were missed.",
        "Check the channel credentials and that a replyline process was running at post time.",
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
        f"Learn from the {best} posts",
        f"Posts for the {best} stage drew {goals[best]['engagement_per_post']:g} reactions and "
        f"replies beyond the usual each ({goals[best]['posts']} posts); {worst} posts drew "
        f"{goals[worst]['engagement_per_post']:g} ({goals[worst]['posts']} posts).",
        f"Reuse what worked in the {best} posts for the {worst} goal.",
        best_goal=best,
        best_per_post=goals[best]["engagement_per_post"],
        worst_goal=worst,
        worst_per_post=goals[worst]["engagement_per_post"],
    )


def _fallback(report: dict) -> dict:
    """Something useful from the numbers even in a quiet or healthy period."""
    volume, r = report["messages"], report["responses"]
    if not volume["total"]:
        return _rec(
            3,
            "messages",
            "Check the channels are connected",
            "No customer messages arrived in this period.",
            "Confirm the Telegram and LINE webhooks reach replyline, and plan posts that invite "
            "questions.",
            messages=0,
        )
    if r["median_minutes"] is not None and r["median_minutes"] <= r["target_minutes"]:
        return _rec(
            4,
            "responses",
            "Keep the reply pace and raise the bar",
            f"The median first reply took {r['median_minutes']:g} min (p90 {r['p90_minutes']:g} "
            f"min) against a target of {r['target_minutes']} min; "
            f"{_pct(r['within_target_share'])} of {r['answered']} conversations met it.",
            "Hold the pace and consider a tighter target for the slowest tenth.",
            median_minutes=r["median_minutes"],
            p90_minutes=r["p90_minutes"],
            target_minutes=r["target_minutes"],
            within_target_share=r["within_target_share"],
        )
    kind, count = next(iter(volume["by_type"].items()))
    return _rec(
        4,
        "messages",
        f"Prepare content for the {kind} messages",
        f"{count} of {volume['total']} messages ({_pct(count / volume['total'])}) were {kind}.",
        f"Plan posts and playbook answers that meet the {kind} messages before they arrive.",
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
    return sorted(recs, key=lambda r: r["priority"])
