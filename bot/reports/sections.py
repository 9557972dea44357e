"""The numbers of a report, one function per section, each computed from collected rows.

Definitions (the report's JSON carries the same names):
- A *message* is an inbound customer message (kind "message"); reactions, follows and the like
  are *events*. Days are local days in the configured time zone.
- *Sentiment*: positive at or above +0.25, negative at or below -0.25, else neutral.
- A *turn* opens with a customer message in a chat with no turn open and closes with the next
  reply replyline sends there (scheduled posts do not count as replies); its *first-response
  time* is the time between. Median is the middle value (mean of the two middle ones); p90 is
  the nearest-rank 90th percentile.
- *Draft decisions* come from the audit log: approved as is, edited, rejected, sent
  automatically. A *holding reply* is a sent draft from a playbook that only promises an answer
  (policy `holding: true`, or the default question playbook); the questions behind them show
  which answers the FAQ lacks.
- *Active* contacts wrote at least one message in the period; *new* contacts were first seen
  in it; *retention* is the share of the previous period's active contacts active again.
- *Post engagement*: messages and reactions that followed a sent post within the engagement
  window (or until the next post to the same place): in the chat it went to, or for LINE
  broadcasts and audiences on LINE as a whole; *direct replies* quote the post. People write
  anyway, so *expected replies* is what that chat (or LINE) receives in as many hours on an
  average day of the period, and *engagement* = reactions + the larger of the direct replies
  and the replies beyond the expected ones.
- *Reach*: distinct contacts per channel who interacted with the brand (wrote, reacted,
  followed) or got a reply in a one-to-one chat during the period.
"""

from __future__ import annotations

import math
import re
import statistics
from bisect import bisect_left
from collections import Counter, defaultdict
from datetime import date, datetime, timedelta

from bot.reports.collect import Data
from db.enums import DraftStatus, PostRunStatus
from nlp.types import STAGES

POSITIVE, NEGATIVE = 0.25, -0.25
RANK = {stage: i for i, stage in enumerate(STAGES)}
DECISION_NAMES = {
    "approve": "approved_as_is",
    "edit": "edited",
    "reject": "rejected",
    "auto_approve": "sent_automatically",
}
# a candidate people chose, whether or not it went out
CHOSEN = (DraftStatus.APPROVED, DraftStatus.EDITED, DraftStatus.SENT, DraftStatus.FAILED)


def ratio(part: float, whole: float) -> float | None:
    return round(part / whole, 4) if whole else None


def minutes(delta: timedelta) -> float:
    return delta.total_seconds() / 60


def median(values: list[float]) -> float | None:
    return round(statistics.median(values), 1) if values else None


def p90(values: list[float]) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return round(ordered[math.ceil(0.9 * len(ordered)) - 1], 1)


def volume(data: Data) -> dict:
    messages = data.messages
    by_day: dict[date, tuple[Counter[str], Counter[str]]] = {
        d: (Counter(), Counter()) for d in data.period.dates
    }
    for m in messages:
        types, channels = by_day[data.period.local_day(m.sent_at)]
        types[m.type or "unclassified"] += 1
        channels[m.channel] += 1
    return {
        "total": len(messages),
        "previous_total": len(data.previous_messages),
        "per_day": round(len(messages) / data.period.days, 1),
        "by_type": dict(Counter(m.type or "unclassified" for m in messages).most_common()),
        "by_channel": dict(Counter(m.channel for m in messages).most_common()),
        "by_day": [
            {
                "date": d.isoformat(),
                "total": sum(types.values()),
                "by_type": dict(types),
                "by_channel": dict(channels),
            }
            for d, (types, channels) in by_day.items()
        ],
    }


def _mood(score: float | None) -> str | None:
    if score is None:
        return None
    return "positive" if score >= POSITIVE else "negative" if score <= NEGATIVE else "neutral"


def _shares(counts: Counter) -> dict:
    total = sum(counts.values())
    moods = ("positive", "neutral", "negative")
    return {
        **{k: counts[k] for k in moods},
        **{f"{k}_share": ratio(counts[k], total) for k in moods},
    }


def sentiment(data: Data) -> dict:
    by_day: dict[date, Counter[str]] = {d: Counter() for d in data.period.dates}
    overall: Counter[str] = Counter()
    for m in data.messages:
        mood = _mood(m.sentiment)
        if mood:
            by_day[data.period.local_day(m.sent_at)][mood] += 1
            overall[mood] += 1
    return {
        "thresholds": {"positive": POSITIVE, "negative": NEGATIVE},
        "overall": _shares(overall),
        "by_day": [{"date": d.isoformat(), **_shares(c)} for d, c in by_day.items()],
    }


def turns(data: Data) -> list[tuple[datetime, datetime | None]]:
    """(opened, answered) for every turn opened in the period; answered None if never."""
    events = [(m.sent_at, 0, m.conversation_id) for m in data.inbound if m.kind == "message"]
    events += [(o.sent_at, 1, o.conversation_id) for o in data.outbound if o.kind != "post"]
    events.sort(key=lambda e: (e[0], e[1]))
    open_since: dict[int, datetime] = {}
    result = []
    for at, is_reply, conversation in events:
        if not is_reply:
            open_since.setdefault(conversation, at)
        elif conversation in open_since:
            result.append((open_since.pop(conversation), at))
    result += [(opened, None) for opened in open_since.values()]
    start, end = data.period.start, data.period.end
    return sorted((t for t in result if start <= t[0] < end), key=lambda t: t[0])


def responses(data: Data, target_minutes: int) -> dict:
    all_turns = turns(data)
    times = [minutes(answered - opened) for opened, answered in all_turns if answered]
    by_hour: dict[int, list[float]] = defaultdict(list)
    for opened, answered in all_turns:
        if answered:
            by_hour[opened.astimezone(data.period.tz).hour].append(minutes(answered - opened))
    within = sum(t <= target_minutes for t in times)
    return {
        "target_minutes": target_minutes,
        "turns": len(all_turns),
        "answered": len(times),
        "unanswered": len(all_turns) - len(times),
        "median_minutes": median(times),
        "p90_minutes": p90(times),
        "within_target": within,
        "within_target_share": ratio(within, len(times)),
        "by_hour": [
            {"hour": h, "turns": len(by_hour[h]), "median_minutes": median(by_hour[h])}
            for h in range(24)
        ],
    }


def is_holding(playbook: str, policy: dict | None) -> bool:
    if policy and "holding" in policy:
        return bool(policy["holding"])
    return playbook.startswith("question/")


def drafts(data: Data) -> dict:
    totals = Counter(DECISION_NAMES[d.action] for d in data.decisions)
    by_playbook: dict[str, Counter] = defaultdict(Counter)
    for d in data.decisions:
        by_playbook[d.playbook or "(none)"][DECISION_NAMES[d.action]] += 1
    holding = [d for d in data.sent_drafts if is_holding(d.playbook or "", d.policy)]
    return {
        **{name: totals[name] for name in DECISION_NAMES.values()},
        "decided": sum(totals.values()),
        "pending_messages": data.pending_messages,
        "by_playbook": {
            name: {
                **{k: c[k] for k in DECISION_NAMES.values()},
                "edit_rate": ratio(c["edited"], c["approved_as_is"] + c["edited"]),
            }
            for name, c in sorted(by_playbook.items())
        },
        "sent_replies": len(data.sent_drafts),
        "holding_replies": len(holding),
        "faq_gaps": faq_gaps([d.text or "" for d in holding]),
    }


def edit_size(before: str, after: str) -> int:
    """Characters removed plus characters added to turn the draft into what was sent."""
    from difflib import SequenceMatcher

    same = sum(b.size for b in SequenceMatcher(None, before, after).get_matching_blocks())
    return len(before) + len(after) - 2 * same


def draft_quality(data: Data) -> dict:
    """Per playbook and commenter type, of messages answered in the period: the share answered
    with a draft as written, the median edit (a reply written from scratch counts as all
    new), and the median minutes from arrival to the decision. Which playbooks to rewrite."""
    by_message: dict[int, list] = defaultdict(list)
    for row in data.answered:
        if not (row.policy or {}).get("acknowledgement"):
            by_message[row.message_id].append(row)
    groups: dict[tuple[str, str], list[tuple[bool, int, float]]] = defaultdict(list)
    for rows in by_message.values():
        chosen = [r for r in rows if r.status in CHOSEN]
        drafted = [r for r in rows if not r.playbook.startswith("manual")]
        if not chosen or not drafted:
            continue
        reply = max(chosen, key=lambda r: r.decided_at)
        as_written = not reply.playbook.startswith("manual") and reply.text == reply.original_text
        size = edit_size(reply.original_text or "", reply.text or "")
        waited = minutes(reply.decided_at - reply.sent_at) if reply.sent_at else 0.0
        key = (drafted[0].playbook, reply.type or "unclassified")
        groups[key].append((as_written, size, max(waited, 0.0)))
    out = []
    for (playbook, kind), items in sorted(groups.items()):
        out.append({
            "playbook": playbook,
            "type": kind,
            "answered": len(items),
            "unedited": sum(i[0] for i in items),
            "unedited_share": ratio(sum(i[0] for i in items), len(items)),
            "median_edit_chars": median([float(i[1]) for i in items]),
            "median_minutes_to_decision": median([i[2] for i in items]),
        })  # fmt: skip
    return {"by_playbook_and_type": out}


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


STOP_EN = _words(
    "the and you your for are can what when where how why who have has with this that there "
    "please thanks thank question hello does did any about our out get not but all would "
    "could will was were from they them their just like want need know tell much many"
)
STOP_ZH = _words(
    "請問 你們 我們 謝謝 可以 什麼 怎麼 是否 有沒 沒有 一下 如何 這個 那個 還是 因為 所以 "
    "就是 不是 知道 想問 問一 請教 您好 你好 哪裡 多少 時候 現在 已經 一個 要怎 的話 是不 "
    "不能 能不 會不 有什 麼時 是怎 麼算 算的 怎樣"
)


_STOP_ZH = re.compile("|".join(STOP_ZH))


def _plain(text: str) -> str:
    """The text without the phrases every question has (請問, 怎麼...)."""
    return _STOP_ZH.sub(" ", text.lower())


def terms(text: str) -> set[str]:
    """English words and Chinese character pairs, without the words every question has."""
    plain = _plain(text)
    found = {w for w in re.findall(r"[a-z][a-z']{2,}", plain) if w not in STOP_EN}
    for run in re.findall(r"[\u4e00-\u9fff]{2,}", plain):
        found.update(run[i : i + 2] for i in range(len(run) - 1))
    return found


def _widen(term: str, texts: list[str]) -> str:
    """Grow a Chinese pair into the longest phrase every text shares (時間 → 營業時間)."""
    if not re.fullmatch(r"[\u4e00-\u9fff]+", term):
        return term
    texts = [_plain(t) for t in texts]
    first = texts[0]
    grown = True
    while grown:
        grown = False
        at = first.find(term)
        for candidate in (first[at : at + len(term) + 1], first[max(at - 1, 0) : at + len(term)]):
            if (
                len(candidate) > len(term)
                and re.fullmatch(r"[\u4e00-\u9fff]+", candidate)
                and all(candidate in t for t in texts)
            ):
                term, grown = candidate, True
                break
    return term


def faq_gaps(texts: list[str], limit: int = 5) -> list[dict]:
    """The topics behind holding replies: repeatedly the term most questions share (at least
    two), with the questions it covers, so each question counts toward one topic."""
    remaining = [(t, terms(t)) for t in texts]
    gaps: list[dict] = []
    while remaining and len(gaps) < limit:
        counts = Counter(term for _, found in remaining for term in found)
        if not counts:
            break
        term, count = min(counts.items(), key=lambda kv: (-kv[1], -len(kv[0]), kv[0]))
        if count < 2:
            break
        covered = [t for t, found in remaining if term in found]
        gaps.append({"topic": _widen(term, covered), "questions": count, "examples": covered[:3]})
        remaining = [(t, found) for t, found in remaining if term not in found]
    return gaps


def _stage_at(data: Data, moment: datetime) -> dict[int, str]:
    stage = {c.id: "identification" for c in data.contacts if c.first_seen_at < moment}
    for move in data.moves:
        if move.at < moment:
            stage[move.contact_id] = move.to_stage
    return stage


def stages(data: Data) -> dict:
    at_start = _stage_at(data, data.period.start)
    at_end = _stage_at(data, data.period.end)
    moves = [m for m in data.moves if data.period.contains(m.at)]
    held: dict[str, set[int]] = defaultdict(set)
    for contact, stage in at_start.items():
        held[stage].add(contact)
    for contact in set(at_end) - set(at_start):
        held["identification"].add(contact)  # new contacts start there
    moved_up: dict[str, set[int]] = defaultdict(set)
    moved_down: set[int] = set()
    for m in moves:
        held[m.to_stage].add(m.contact_id)
        if RANK.get(m.to_stage, 0) > RANK.get(m.from_stage, 0):
            moved_up[m.from_stage].add(m.contact_id)
        else:
            moved_down.add(m.contact_id)
    transitions = Counter((m.from_stage, m.to_stage) for m in moves)
    reached = {s: {m.contact_id for m in moves if m.to_stage == s} for s in STAGES[1:]}
    return {
        "funnel_start": {s: Counter(at_start.values())[s] for s in STAGES},
        "funnel_end": {s: Counter(at_end.values())[s] for s in STAGES},
        "transitions": [
            {"from": a, "to": b, "count": n} for (a, b), n in sorted(transitions.items())
        ],
        "moved_to_relationship": len(reached["relationship"]),
        "moved_to_collaboration": len(reached["collaboration"]),
        "moved_back": len(moved_down),
        "conversion": {
            s: {
                "contacts": len(held[s]),
                "moved_up": len(moved_up[s]),
                "rate": ratio(len(moved_up[s]), len(held[s])),
            }
            for s in STAGES[:-1]
        },
    }


def _active(messages: list) -> set[int]:
    return {m.contact_id for m in messages if m.contact_id is not None}


def contacts(data: Data) -> dict:
    messages = data.messages
    active = _active(messages)
    previous = _active(data.previous_messages)
    new = {c.id for c in data.contacts if data.period.contains(c.first_seen_at)}
    channel_of = {c.id: c.channel for c in data.contacts}
    days: dict[int, set] = defaultdict(set)
    for m in messages:
        if m.contact_id in new:
            days[m.contact_id].add(data.period.local_day(m.sent_at))
    retained = previous & active
    return {
        "active": len(active),
        "new": len(new),
        "new_active": len(active & new),
        "returning": len(active - new),
        "new_rate": ratio(len(active & new), len(active)),
        "new_came_back": sum(len(d) >= 2 for d in days.values()),
        "previous_active": len(previous),
        "retained": len(retained),
        "retention_rate": ratio(len(retained), len(previous)),
        "new_by_channel": dict(Counter(channel_of[c] for c in new).most_common()),
    }


def complaints(data: Data) -> dict:
    messages = data.messages
    found = [m for m in messages if m.type == "complaint"]
    previous = data.previous_messages
    previous_found = sum(m.type == "complaint" for m in previous)
    by_day = Counter(data.period.local_day(m.sent_at) for m in found)
    return {
        "total": len(found),
        "share": ratio(len(found), len(messages)),
        "per_day": round(len(found) / data.period.days, 2),
        "previous_total": previous_found,
        "previous_share": ratio(previous_found, len(previous)),
        "by_subtype": dict(Counter(m.subtype or "unspecified" for m in found).most_common()),
        "by_channel": dict(Counter(m.channel for m in found).most_common()),
        "by_day": [{"date": d.isoformat(), "count": by_day[d]} for d in data.period.dates],
    }


class _Timeline:
    """Rows in time order, sliced by time with a binary search; counts the period's messages
    for the expected rate."""

    def __init__(self) -> None:
        self.rows: list = []
        self.times: list[datetime] = []
        self.in_period = 0

    def add(self, row, in_period: bool) -> None:
        self.rows.append(row)
        self.times.append(row.sent_at)
        self.in_period += in_period and row.kind == "message"

    def between(self, start: datetime, end: datetime) -> list:
        return self.rows[bisect_left(self.times, start) : bisect_left(self.times, end)]


def _engagement_index(
    data: Data, runs: list
) -> tuple[defaultdict[int, _Timeline], defaultdict[str, _Timeline]]:
    """Inbound messages and reactions in the chats posts went to, and on the channels of
    broadcasts (inbound is in time order already)."""
    chats = {r.conversation_id for r in runs if r.conversation_id}
    channels = {r.channel for r in runs if not r.conversation_id}
    by_conversation: defaultdict[int, _Timeline] = defaultdict(_Timeline)
    by_channel: defaultdict[str, _Timeline] = defaultdict(_Timeline)
    start, end = data.period.start, data.period.end
    for m in data.inbound:
        if m.kind in ("message", "reaction") and (
            m.conversation_id in chats or m.channel in channels
        ):
            in_period = start <= m.sent_at < end
            if m.conversation_id in chats:
                by_conversation[m.conversation_id].add(m, in_period)
            if m.channel in channels:
                by_channel[m.channel].add(m, in_period)
    return by_conversation, by_channel


def posts(data: Data, window: timedelta) -> dict:
    sent = [r for r in data.runs if r.status == PostRunStatus.SENT and r.finished_at]
    by_conversation, by_channel = _engagement_index(data, sent)
    next_on_target: dict[int, datetime] = {}
    by_target = defaultdict(list)
    for i, r in enumerate(sent):
        by_target[(r.channel, r.target)].append(i)
    for indexes in by_target.values():
        ordered = sorted(indexes, key=lambda i: sent[i].finished_at)
        for here, later in zip(ordered, ordered[1:], strict=False):
            next_on_target[here] = sent[later].finished_at
    items: list[dict] = []
    # each goal's sums: counts stay int, engagement is a float
    goals: defaultdict[str | None, defaultdict[str, float]] = defaultdict(lambda: defaultdict(int))
    hours = data.period.days * 24
    for i, r in enumerate(sent):
        until = min(r.finished_at + window, next_on_target.get(i, r.finished_at + window))
        pool = by_conversation[r.conversation_id] if r.conversation_id else by_channel[r.channel]
        followed = pool.between(r.finished_at, until)
        replies = [m for m in followed if m.kind == "message"]
        expected = pool.in_period / hours * (until - r.finished_at).total_seconds() / 3600
        direct = sum(m.reply_to_message_id == r.message_id for m in replies if r.message_id)
        reactions = sum(m.kind == "reaction" for m in followed)
        engagement = round(reactions + max(direct, len(replies) - expected, 0), 1)
        engaged = len({m.contact_id for m in followed if m.contact_id})
        item = {
            "post_id": r.post_id,
            "at": r.scheduled_for.isoformat(),
            "local_time": r.scheduled_for.astimezone(data.period.tz).strftime("%Y-%m-%d %H:%M"),
            "target": f"{r.channel}:{r.target}",
            "stage_goal": r.stage_goal,
            "recurring": r.cron is not None,
            "text": (r.text or "")[:120],
            "replies": len(replies),
            "expected_replies": round(expected, 1),
            "direct_replies": direct,
            "reactions": reactions,
            "engagement": engagement,
            "engaged_contacts": engaged,
        }
        items.append(item)
        goal = goals[r.stage_goal]
        goal["posts"] += 1
        goal["replies"] += len(replies)
        goal["reactions"] += reactions
        goal["engagement"] += engagement
        goal["engaged_contacts"] += engaged
    by_status = Counter(r.status for r in data.runs) + Counter(p.status for p in data.unrun_posts)
    return {
        "window_hours": round(window.total_seconds() / 3600, 1),
        "by_status": dict(by_status),
        "sent": len(sent),
        "items": items,
        "by_stage_goal": {
            g: {
                **{k: round(v, 1) for k, v in c.items()},
                "engagement_per_post": round(c["engagement"] / c["posts"], 2),
            }
            for g, c in sorted(goals.items())
        },
        "problems": [
            {
                "post_id": r.post_id,
                "at": r.scheduled_for.isoformat(),
                "status": r.status,
                "error": r.error,
            }
            for r in data.runs
            if r.status in (PostRunStatus.FAILED, PostRunStatus.MISSED)
        ],
    }


def reach(data: Data, post_section: dict) -> dict:
    interacted, replied = defaultdict(set), defaultdict(set)
    start, end = data.period.start, data.period.end
    for m in data.inbound:
        if m.contact_id is not None and start <= m.sent_at < end:
            interacted[m.channel].add(m.contact_id)
    for o in data.outbound:
        if o.kind != "post" and o.contact_id is not None and start <= o.sent_at < end:
            replied[o.channel].add(o.contact_id)
    posts_sent = Counter(item["target"].split(":", 1)[0] for item in post_section["items"])
    channels = sorted(set(interacted) | set(replied) | set(posts_sent))
    by_channel = {
        ch: {
            "contacts_reached": len(interacted[ch] | replied[ch]),
            "interacted": len(interacted[ch]),
            "got_replies": len(replied[ch]),
            "posts_sent": posts_sent[ch],
        }
        for ch in channels
    }
    return {
        "contacts_reached": sum(v["contacts_reached"] for v in by_channel.values()),
        "by_channel": by_channel,
    }
