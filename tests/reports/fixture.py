"""A small, hand-built fortnight of activity whose report numbers are counted by hand in the
tests. Everything happens in Asia/Taipei; the report covers 2026-11-02 and 2026-11-03, the
previous period 2026-10-31 and 2026-11-01.

Contacts (channel, first seen): A line 10-31 10:00 · B line 11-02 09:00 · C telegram 11-02
12:30 · D web 10-20 · E line 11-03 20:00 (only follows) · F telegram 11-02 12:05.

Customer messages (m = in the period, p = previous period; conversation; type; sentiment):
  p1 A  10-31 10:00 question  0.0        p2 D 11-01 12:00 advocate 0.7
  m1 B  11-02 09:00 complaint/angry -0.6  m2 B 11-02 09:05 complaint/angry -0.6
  m3 A  11-02 09:10 question "請問營業時間？" 0.0
  r1 F  group 11-02 12:05 reaction to the post
  m4 F  group 11-02 12:10 advocate 0.6, quoting the post
  r2 C  group 11-02 12:30 reaction to the post
  m5 C  group 11-02 13:00 question 0.0
  m6 C  11-02 14:00 question "請問營業時間到幾點" 0.0
  m7 A  11-03 10:00 advocate 0.8          m8 B 11-03 15:00 question "運費怎麼算？" 0.1
  m9 C  11-03 16:00 troll -0.8            f1 E 11-03 20:00 follow
Replies sent: A 10-31 11:00, B 11-02 09:30, A 11-02 09:20, group 11-02 13:10, C 11-02 16:00,
A 11-03 10:05, B 11-03 15:45. Telegram group post 11-02 12:00 (post P1).
Drafts and decisions: m1 edited · m3 approved (question) · m4 sent automatically · m6
approved (question) · m7 edited · m8 edited (question) · m9 rejected · m5 still pending.
Stage moves: D ident→rel 10-25; A ident→rel 11-03 10:00; F ident→rel 11-02 12:10 and
rel→collab 11-03 09:00; D rel→ident 11-02 18:00.
Posts: P1 telegram group, relationship, sent 11-02 12:00 · P2 LINE broadcast,
identification, sent 11-03 09:00 · P3 LINE audience, collaboration, missed 11-03 11:00 ·
P4 planned, never approved, 11-02 18:00 · P5 cancelled, 11-03 12:00.
"""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from db.engine import session_scope
from db.models import (
    AuditLog,
    Contact,
    Conversation,
    Draft,
    Message,
    Post,
    PostRun,
    StageTransition,
)

TAIPEI = ZoneInfo("Asia/Taipei")
FIRST, LAST = "2026-11-02", "2026-11-03"


def at(when: str) -> datetime:
    """'11-02 09:00' in Taipei, as UTC."""
    return datetime.strptime(f"2026-{when}", "%Y-%m-%d %H:%M").replace(tzinfo=TAIPEI)


def build(engine) -> dict[str, int]:
    ids: dict[str, int] = {}
    with session_scope(engine) as s:

        def add(obj, name=None):
            s.add(obj)
            s.flush()
            if name:
                ids[name] = obj.id
            return obj

        people = {
            "A": ("line", "10-31 10:00"),
            "B": ("line", "11-02 09:00"),
            "C": ("telegram", "11-02 12:30"),
            "D": ("web", "10-20 09:00"),
            "E": ("line", "11-03 20:00"),
            "F": ("telegram", "11-02 12:05"),
        }
        for name, (channel, first) in people.items():
            add(
                Contact(
                    channel=channel,
                    platform_user_id=name,
                    first_seen_at=at(first),
                    last_seen_at=at(first),
                ),
                name,
            )
            add(
                Conversation(
                    channel=channel, chat_id=name, contact_id=ids[name], created_at=at(first)
                ),
                f"conv{name}",
            )
        add(Conversation(channel="telegram", chat_id="-100123", kind="group"), "group")
        post_message = add(
            Message(
                channel="telegram",
                conversation_id=ids["group"],
                direction="out",
                kind="post",
                text="週末市集",
                state="ignored",
                sent_at=at("11-02 12:00"),
            ),
            "post_message",
        )

        def inbound(name, who, conv, when, kind="message", **kw):
            channel = "telegram" if conv == "group" else people[who][0]
            return add(
                Message(
                    channel=channel,
                    platform_event_id=name,
                    conversation_id=ids[conv],
                    contact_id=ids[who],
                    kind=kind,
                    text=kw.pop("text", name),
                    state="processed" if kind == "message" else "ignored",
                    sent_at=at(when),
                    **kw,
                ),
                name,
            )

        inbound("p1", "A", "convA", "10-31 10:00", type="question", sentiment=0.0)
        inbound("p2", "D", "convD", "11-01 12:00", type="advocate", sentiment=0.7)
        angry = {"type": "complaint", "subtype": "angry", "sentiment": -0.6}
        inbound("m1", "B", "convB", "11-02 09:00", **angry)
        inbound("m2", "B", "convB", "11-02 09:05", **angry)
        inbound("m3", "A", "convA", "11-02 09:10", type="question", sentiment=0.0,
                text="請問營業時間？")  # fmt: skip
        quoting = {"reply_to_message_id": post_message.id}
        inbound("r1", "F", "group", "11-02 12:05", kind="reaction", **quoting)
        inbound("m4", "F", "group", "11-02 12:10", type="advocate", sentiment=0.6, **quoting)
        inbound("r2", "C", "group", "11-02 12:30", kind="reaction", **quoting)
        inbound("m5", "C", "group", "11-02 13:00", type="question", sentiment=0.0)
        inbound("m6", "C", "convC", "11-02 14:00", type="question", sentiment=0.0,
                text="請問營業時間到幾點")  # fmt: skip
        inbound("m7", "A", "convA", "11-03 10:00", type="advocate", sentiment=0.8)
        inbound("m8", "B", "convB", "11-03 15:00", type="question", sentiment=0.1,
                text="運費怎麼算？")  # fmt: skip
        inbound("m9", "C", "convC", "11-03 16:00", type="troll", sentiment=-0.8)
        inbound("f1", "E", "convE", "11-03 20:00", kind="follow")

        for conv, when in (
            ("convA", "10-31 11:00"),
            ("convB", "11-02 09:30"),
            ("convA", "11-02 09:20"),
            ("group", "11-02 13:10"),
            ("convC", "11-02 16:00"),
            ("convA", "11-03 10:05"),
            ("convB", "11-03 15:45"),
        ):
            channel = "telegram" if conv == "group" else people[conv[-1]][0]
            add(
                Message(
                    channel=channel,
                    conversation_id=ids[conv],
                    direction="out",
                    text="reply",
                    state="ignored",
                    sent_at=at(when),
                )
            )

        decisions = [  # message, playbook, audit action, decided, sent
            ("m1", "complaint/identification", "edit", "11-02 09:25", "11-02 09:30"),
            ("m3", "question/relationship", "approve", "11-02 09:15", "11-02 09:20"),
            ("m4", "advocate/identification", "auto_approve", "11-02 13:05", "11-02 13:10"),
            ("m6", "question/identification", "approve", "11-02 15:50", "11-02 16:00"),
            ("m7", "advocate/relationship", "edit", "11-03 10:03", "11-03 10:05"),
            ("m8", "question/relationship", "edit", "11-03 15:40", "11-03 15:45"),
            ("m9", "troll/identification", "reject", "11-03 16:30", None),
            ("m5", "question/identification", None, None, None),
        ]
        for message, playbook, action, decided, sent in decisions:
            m = s.get(Message, ids[message])
            status = "sent" if sent else ("rejected" if action else "pending")
            draft = add(
                Draft(
                    message_id=m.id,
                    conversation_id=m.conversation_id,
                    text="draft",
                    original_text="draft",
                    playbook=playbook,
                    status=status,
                    created_at=m.sent_at,
                    sent_at=at(sent) if sent else None,
                )
            )
            if action:
                add(
                    AuditLog(
                        at=at(decided),
                        username="mei",
                        action=action,
                        draft_id=draft.id,
                        message_id=m.id,
                    )
                )

        for who, a, b, when in (
            ("D", "identification", "relationship", "10-25 10:00"),
            ("A", "identification", "relationship", "11-03 10:00"),
            ("F", "identification", "relationship", "11-02 12:10"),
            ("F", "relationship", "collaboration", "11-03 09:00"),
            ("D", "relationship", "identification", "11-02 18:00"),
        ):
            add(StageTransition(contact_id=ids[who], from_stage=a, to_stage=b, reason="t",
                                at=at(when)))  # fmt: skip

        def post(name, channel, target, goal, when, status):
            return add(
                Post(
                    text=name,
                    channel=channel,
                    target=target,
                    stage_goal=goal,
                    scheduled_at=at(when),
                    status=status,
                ),  # fmt: skip
                name,
            )

        post("P1", "telegram", "-100123", "relationship", "11-02 12:00", "sent")
        post("P2", "line", "broadcast", "identification", "11-03 09:00", "sent")
        post("P3", "line", "audience:77", "collaboration", "11-03 11:00", "missed")
        post("P4", "line", "broadcast", "identification", "11-02 18:00", "planned")
        post("P5", "telegram", "@brand", "relationship", "11-03 12:00", "cancelled")
        for name, status, when, message in (
            ("P1", "sent", "11-02 12:00", post_message.id),
            ("P2", "sent", "11-03 09:00", None),
            ("P3", "missed", "11-03 11:00", None),
        ):
            add(
                PostRun(
                    post_id=ids[name],
                    scheduled_for=at(when),
                    status=status,
                    started_at=at(when),
                    finished_at=at(when),
                    message_id=message,
                    error="replyline was not running" if status == "missed" else None,
                )
            )
    return ids
