"""Learn from the team: a candidate "as your team answered before", taken from replies people
approved or edited for a similar earlier message of the same language and type. Edits made in
review improve later drafts without code changes; the candidate says which reply it came from.

Similarity is the overlap of character pairs (Chinese) and words (English) between the two
messages: cheap, explainable, and needs no model. A reply that names its customer, a ticket,
a proposal or an order of the earlier message is never reused."""

from __future__ import annotations

import re

from sqlmodel import Session, col, select

from db.enums import DraftStatus, Role
from db.models import Contact, Draft, Message
from playbooks.engine import DraftCandidate

PLAYBOOK = "team/answered-before"
LOOK_BACK = 300  # most recent decided replies compared
AT_LEAST = 0.34  # similarity a reply must reach to be offered
FIRST_AT = 0.6  # ...and to be ranked above the playbook's candidates
_NUMBERED = re.compile(r"\b[A-Z]{1,3}-\d{3,}\b|#?[A-Za-z]{0,3}\d{5,}")


def features(text: str) -> set[str]:
    """Lower-cased English words and Chinese character pairs."""
    text = (text or "").lower()
    found = set(re.findall(r"[a-z][a-z']+", text))
    for run in re.findall(r"[\u4e00-\u9fff]+", text):
        found.update(run[i : i + 2] for i in range(len(run) - 1))
        if len(run) == 1:
            found.add(run)
    return found


def similarity(a: str, b: str) -> float:
    """Dice overlap of the two texts' features."""
    fa, fb = features(a), features(b)
    if not fa or not fb:
        return 0.0
    return 2 * len(fa & fb) / (len(fa) + len(fb))


def answered_before(
    session: Session, message: Message, kind: str, language: str, template: DraftCandidate | None
) -> tuple[DraftCandidate, float] | None:
    """The closest earlier reply a person chose for a message like this one, as a candidate
    (never sent on its own), with its similarity; None when nothing is close enough."""
    rows = session.exec(
        select(Draft, Message)
        .join(Message, col(Message.id) == Draft.message_id)
        .where(
            col(Draft.status).in_((DraftStatus.APPROVED, DraftStatus.EDITED, DraftStatus.SENT)),
            col(Draft.decided_by_id).is_not(None),
            col(Draft.auto).is_(False),
            Message.type == kind,
            Message.language == language,
            Message.id != message.id,
        )
        .order_by(col(Draft.decided_at).desc())
        .limit(LOOK_BACK)
    ).all()
    best = None
    for draft, earlier in rows:
        if (draft.policy or {}).get("acknowledgement") or not draft.text.strip():
            continue
        score = similarity(message.text or "", earlier.text or "")
        closer = score >= AT_LEAST and (best is None or score > best[0])
        if closer and not _names_the_other_customer(session, draft.text, earlier):
            best = (score, draft, earlier)
    if best is None:
        return None
    score, draft, earlier = best
    policy = dict(template.policy) if template else {}
    policy.pop("faq", None)
    policy.update(human_required=True, auto_send=False, learned_from={
        "draft_id": draft.id, "message_id": earlier.id, "similarity": round(score, 3),
        "message_text": (earlier.text or "")[:200], "edited": draft.text != draft.original_text,
    })  # fmt: skip
    role = template.required_role if template else Role.AGENT
    return DraftCandidate(draft.text, PLAYBOOK, role, False, policy), score


def _names_the_other_customer(session: Session, reply: str, earlier: Message) -> bool:
    """Whether the reply carries the earlier customer's name or numbers of their case."""
    if _NUMBERED.search(reply):
        return True
    contact = session.get(Contact, earlier.contact_id) if earlier.contact_id else None
    name = (contact.display_name or "").strip() if contact else ""
    return bool(name) and name in reply


def rank_in(candidates: list[DraftCandidate], found, limit: int) -> list[DraftCandidate]:
    """The team's reply among the playbook's candidates: first when very close, else second."""
    if found is None:
        return candidates
    candidate, score = found
    at = 0 if score >= FIRST_AT else min(1, len(candidates))
    return [*candidates[:at], candidate, *candidates[at:]][:limit]
