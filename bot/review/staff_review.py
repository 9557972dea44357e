"""Review from the Telegram staff chat (REPLYLINE_TELEGRAM_STAFF_CHAT_ID).

Each message waiting for review gets one card there: the customer's words, their type, stage
and confidence, the proposed reply, and buttons Approve / Edit / Reject. Only staff linked to a
console user by Telegram user id may decide (`replyline user add NAME --telegram-id ID`);
anyone else gets a polite refusal. Edit sends a forced-reply prompt; that staff member's reply
to it is approved as the new text. Decisions go through bot/review/decisions.py with
via="telegram", so they are audited exactly like the console's. When a draft is decided
anywhere, its card is updated and loses its buttons.

The worker runs `StaffReview.run_once` every round. Cards and prompts are rows
(db/models/adapters.py) claimed before sending, so each is sent once, also across restarts and
several workers; a worker that dies between sending and recording may show one twice, never
zero times."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import delete, or_, update
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from bot.delivery.notify import reader_locale
from bot.delivery.outbox import READY
from bot.errors import DomainError
from bot.i18n import N_, channel_label, stage_label, stamp, type_label, use_locale
from bot.i18n import gettext as _
from bot.review import actions
from bot.review import decisions as review
from bot.review.actions import Press
from bot.review.contact_names import contact_name, conversation_name
from db.engine import session_scope
from db.enums import DraftStatus
from db.models import Contact, Conversation, Draft, Message, StaffCard, StaffEditRequest, User
from db.types import utcnow
from handlers.base import Action, Channel, SendResult

log = logging.getLogger(__name__)
LEASE = timedelta(seconds=60)  # a claim on a card or prompt that is being sent
MAX_ATTEMPTS = 5
BATCH = 20
RECENT = timedelta(hours=24)  # older drafts do not get a card when the staff chat is set up
REFUSAL = N_(
    "Sorry, only replyline staff can decide on drafts. Ask an admin to link your Telegram "
    "account: replyline user add NAME --telegram-id YOUR_ID"
)
STALE = N_("This button is no longer valid.")
REJECTED_IN_CHAT = N_("rejected in the Telegram staff chat")  # stored as the reason
# what a superseded candidate's card reports instead: the sibling that was chosen
DECIDED = (DraftStatus.APPROVED, DraftStatus.EDITED, DraftStatus.SENT, DraftStatus.FAILED)
OUTCOMES = {
    DraftStatus.APPROVED: N_("✅ Approved by {who}"),
    DraftStatus.EDITED: N_("✏️ Edited and approved by {who}"),
    DraftStatus.SENT: N_("✅ Sent (decided by {who})"),
    DraftStatus.FAILED: N_("⚠️ Approved by {who} but could not be sent: {error}"),
    DraftStatus.REJECTED: N_("❌ Rejected by {who}: {reason}"),
    DraftStatus.SUPERSEDED: N_("✅ Another reply was chosen by {who}"),
}


# ----- buttons and replies (bot/review/actions.py prefixes "draft" and "reply") ----------------


def buttons(draft_id: int) -> list[Action]:
    """A card's buttons, labelled in the current language."""
    return [
        Action(_("Approve"), actions.encode("draft", f"a:{draft_id}")),
        Action(_("Edit"), actions.encode("draft", f"e:{draft_id}")),
        Action(_("Reject"), actions.encode("draft", f"r:{draft_id}")),
    ]


def chat_locale(session: Session, chat_id: str) -> str | None:
    """The staff chat's language: its linked user's if it is a private chat, else the brand's."""
    return reader_locale(session, f"telegram:{chat_id}")


def on_draft_button(session: Session, user: User | None, press: Press, payload: str) -> str:
    verb, _sep, number = payload.partition(":")
    if user is None:
        return _(REFUSAL)
    if not number.isdigit() or verb not in ("a", "e", "r"):
        return _(STALE)
    draft_id = int(number)
    try:
        if verb == "a":
            review.approve(session, draft_id, user, via="telegram")
            return _("✅ Approved; sending now.")
        if verb == "r":
            review.reject(
                session,
                draft_id,
                user,
                reason=REJECTED_IN_CHAT,
                via="telegram",
            )
            return _("❌ Rejected.")
        return _request_edit(session, draft_id, user)
    except DomainError as error:
        return error.text()  # in the presser's language (actions.dispatch)


def _request_edit(session: Session, draft_id: int, user: User) -> str:
    assert user.id is not None  # a stored user
    review._open_draft(session, draft_id, user)  # the same checks as a decision
    card = session.exec(select(StaffCard).where(StaffCard.draft_id == draft_id)).first()
    if card is None:
        return _(STALE)
    waiting = session.exec(
        select(StaffEditRequest.id).where(
            StaffEditRequest.draft_id == draft_id,
            StaffEditRequest.user_id == user.id,
            col(StaffEditRequest.used_at).is_(None),
            StaffEditRequest.attempts < MAX_ATTEMPTS,
        )
    ).first()
    if waiting is not None:
        return _("✏️ Reply to my message asking for the new text.")
    session.add(
        StaffEditRequest(
            draft_id=draft_id,
            user_id=user.id,
            chat_id=card.chat_id,
            card_message_id=card.platform_message_id,
        )
    )
    return _("✏️ Reply to my next message with the new text.")


def on_staff_reply(session: Session, user: User | None, press: Press, payload: str) -> str:
    """A reply in the staff chat to one of the bot's messages; only edit prompts matter."""
    request = session.exec(
        select(StaffEditRequest).where(
            StaffEditRequest.prompt_message_id == payload, col(StaffEditRequest.used_at).is_(None)
        )
    ).first()
    if request is None:
        return ""  # a reply to a card or an old prompt: staff talking among themselves
    if user is None:
        return _(REFUSAL)
    if user.id != request.user_id:
        owner = session.get(User, request.user_id)
        assert owner is not None  # the request's foreign key
        return _("This edit belongs to {who}; press Edit on the card to make your own.").format(
            who=owner.username
        )
    try:
        review.approve(session, request.draft_id, user, text=press.text or "", via="telegram")
    except DomainError as error:
        return error.text()  # in the presser's language (actions.dispatch)
    request.used_at = utcnow()
    session.add(request)
    return _("✅ Approved with your text; sending now.")


# ----- the worker's job: cards out, prompts out, decided cards closed ---------------------------


@dataclass
class StaffReview:
    engine: Engine
    channel: Channel
    chat_id: str

    async def run_once(self) -> int:
        """Send new cards and prompts, close decided cards; returns how many went out."""
        await asyncio.to_thread(self._create_cards)
        done = 0
        for card_id in await asyncio.to_thread(self._claim, StaffCard):
            done += await self._send_card(card_id)
        for request_id in await asyncio.to_thread(self._claim, StaffEditRequest):
            done += await self._send_prompt(request_id)
        for card_id in await asyncio.to_thread(self._decided_cards):
            done += await self._close_card(card_id)
        return done

    def _create_cards(self) -> None:
        """A card row for each recent message with pending drafts that has none yet."""
        since = utcnow() - RECENT
        # another worker may create the same cards at the same moment; theirs are as good
        with contextlib.suppress(IntegrityError), session_scope(self.engine) as session:
            carded = select(StaffCard.message_id)
            drafts = session.exec(
                select(Draft)
                .where(
                    Draft.status == review.OPEN,
                    Draft.created_at >= since,
                    col(Draft.message_id).not_in(carded),
                )
                .order_by(col(Draft.message_id), col(Draft.rank))
                .limit(BATCH * 4)
            ).all()
            chosen: dict[int, Draft] = {}
            for draft in drafts:
                chosen.setdefault(draft.message_id, draft)
            for draft in list(chosen.values())[:BATCH]:
                assert draft.id is not None  # read from the table
                session.add(
                    StaffCard(message_id=draft.message_id, draft_id=draft.id, chat_id=self.chat_id)
                )

    def _claim(self, table) -> list[int]:
        """Take a lease on rows still to send (cards or prompts) whose turn it is."""
        now = utcnow()
        sent_column = col(table.sent_at) if table is StaffCard else table.prompted_at
        due = [
            sent_column.is_(None),
            table.attempts < MAX_ATTEMPTS,
            or_(table.next_attempt_at.is_(None), table.next_attempt_at <= now),
            or_(table.claimed_until.is_(None), table.claimed_until < now),
        ]
        if table is StaffCard:
            due.append(col(table.closed_at).is_(None))
        else:
            due.append(table.used_at.is_(None))
        claimed = []
        with session_scope(self.engine) as session:
            ids = session.exec(select(table.id).where(*due).order_by(table.id).limit(BATCH)).all()
            for row_id in ids:
                result = session.exec(
                    update(table).where(table.id == row_id, *due).values(claimed_until=now + LEASE)
                )
                if result.rowcount == 1:
                    claimed.append(row_id)
        return claimed

    async def _send_card(self, card_id: int) -> int:
        text, labelled = await asyncio.to_thread(self._card_text, card_id)
        if text is None:  # decided before its card went out: nothing to ask
            await asyncio.to_thread(self._finish, StaffCard, card_id)
            return 0
        result = await self.channel.push(self.chat_id, text, labelled)
        await asyncio.to_thread(self._record, StaffCard, card_id, result, text)
        return int(result.ok)

    def _card_text(self, card_id: int) -> tuple[str | None, list[Action]]:
        """The card and its buttons in the staff chat's language."""
        with Session(self.engine) as session:
            card = session.get(StaffCard, card_id)
            assert card is not None  # claimed from the table
            draft = session.get(Draft, card.draft_id)
            assert draft is not None and draft.id is not None  # the card's foreign key
            if draft.status != review.OPEN:
                return None, []
            message = session.get(Message, card.message_id)
            assert message is not None  # the card's foreign key
            conversation = session.get(Conversation, message.conversation_id)
            assert conversation is not None  # the message's foreign key
            contact = session.get(Contact, message.contact_id) if message.contact_id else None
            with use_locale(chat_locale(session, card.chat_id)):
                return card_text(message, conversation, contact, draft), buttons(draft.id)

    async def _send_prompt(self, request_id: int) -> int:
        prompt = await asyncio.to_thread(self._prompt, request_id)
        if prompt is None:  # decided meanwhile: nothing to ask
            await asyncio.to_thread(self._finish, StaffEditRequest, request_id)
            return 0
        chat_id, text, card_message_id, placeholder = prompt
        result = await self.channel.ask(
            chat_id, text, reply_to=card_message_id, placeholder=placeholder
        )
        await asyncio.to_thread(self._record, StaffEditRequest, request_id, result)
        return int(result.ok)

    def _prompt(self, request_id: int) -> tuple[str, str, str | None, str] | None:
        """The edit prompt, in the language of the staff member it asks."""
        with Session(self.engine) as session:
            request = session.get(StaffEditRequest, request_id)
            assert request is not None  # claimed from the table
            user = session.get(User, request.user_id)
            draft = session.get(Draft, request.draft_id)
        assert user is not None and draft is not None  # the request's foreign keys
        if draft.status != review.OPEN:
            return None
        with use_locale(user.locale):
            text = _(
                "✏️ {who}: reply to this message with the new text for draft #{id}.\nNow: {text}"
            ).format(who=user.username, id=draft.id, text=draft.text)
            placeholder = _("New reply text")
        return request.chat_id, text, request.card_message_id, placeholder

    def _finish(self, table, row_id: int) -> None:
        """Nothing left to send for this card or prompt: its draft was decided meanwhile."""
        column = "closed_at" if table is StaffCard else "used_at"
        with session_scope(self.engine) as session:
            session.exec(
                update(table)
                .where(table.id == row_id)
                .values(claimed_until=None, **{column: utcnow()})
            )

    def _record(self, table, row_id: int, result: SendResult, text: str | None = None) -> None:
        now = utcnow()
        with session_scope(self.engine) as session:
            row = session.get(table, row_id)
            assert row is not None  # claimed from the table
            row.claimed_until = None
            if result.ok and table is StaffCard:
                row.sent_at, row.platform_message_id, row.text = (
                    now,
                    result.platform_message_id,
                    text,
                )
            elif result.ok:
                row.prompted_at, row.prompt_message_id = now, result.platform_message_id
            elif result.deferred:
                row.next_attempt_at = now + timedelta(seconds=result.retry_after or 1)
            else:
                row.attempts += 1
                row.error = result.error
                if result.permanent:
                    row.attempts = MAX_ATTEMPTS
                delay = result.retry_after or min(300, 2**row.attempts)
                row.next_attempt_at = now + timedelta(seconds=delay)
                log.warning("staff chat: %s %s not sent: %s", table.__name__, row_id, result.error)
            session.add(row)

    def _decided_cards(self) -> list[int]:
        with Session(self.engine) as session:
            ids = session.exec(
                select(StaffCard.id)
                .join(Draft, col(Draft.id) == StaffCard.draft_id)
                .where(
                    col(StaffCard.sent_at).is_not(None),
                    col(StaffCard.closed_at).is_(None),
                    Draft.status != review.OPEN,
                    col(Draft.status).not_in(READY),  # closed once the send has resolved
                )
                .order_by(col(StaffCard.id))
                .limit(BATCH)
            ).all()
            return [card_id for card_id in ids if card_id is not None]  # stored rows have one

    async def _close_card(self, card_id: int) -> int:
        card, outcome = await asyncio.to_thread(self._outcome, card_id)
        result = await self.channel.edit(
            card.chat_id, card.platform_message_id or "", f"{card.text or ''}\n\n{outcome}"
        )
        if result.deferred:
            return 0
        with session_scope(self.engine) as session:
            waiting = session.exec(
                select(Draft.id).where(
                    Draft.message_id == card.message_id, Draft.status == review.OPEN
                )
            ).first()
            if waiting is not None:  # every candidate was rejected: a new card to write it in
                session.exec(delete(StaffCard).where(col(StaffCard.id) == card_id))
            else:
                session.exec(
                    update(StaffCard).where(col(StaffCard.id) == card_id).values(closed_at=utcnow())
                )
        return int(result.ok)

    def _outcome(self, card_id: int) -> tuple[StaffCard, str]:
        with Session(self.engine) as session:
            card = session.get(StaffCard, card_id)
            assert card is not None  # listed by _decided_cards
            draft = session.get(Draft, card.draft_id)
            assert draft is not None  # the card's foreign key
            if draft.status == DraftStatus.SUPERSEDED:  # a sibling candidate was chosen
                draft = (
                    session.exec(
                        select(Draft).where(
                            Draft.message_id == draft.message_id,
                            col(Draft.status).in_(DECIDED),
                        )
                    ).first()
                    or draft
                )
            who = session.get(User, draft.decided_by_id) if draft.decided_by_id else None
            locale = chat_locale(session, card.chat_id)
        status = DraftStatus.SUPERSEDED if card.draft_id != draft.id else draft.status
        with use_locale(locale):
            outcome = _(OUTCOMES.get(status, N_("Decided: {status}"))).format(
                who=who.username if who else _("the assistant"),
                reason=_(draft.reason) if draft.reason == REJECTED_IN_CHAT else draft.reason or "",
                error=draft.error or "",
                status=status,
            )
        return card, outcome


def card_text(message: Message, conversation: Conversation, contact, draft: Draft) -> str:
    """Plain text in the current language (no markup, so customer words cannot format or
    inject anything), with the time the customer wrote in the brand's zone."""
    who = contact_name(contact)
    where = (
        conversation_name(conversation, contact)
        if conversation.kind == "group"
        else _("direct chat")
    )
    said = message.text or f"[{message.content_type}]"
    kind = type_label(message.type) or "?"
    stage = stage_label(message.stage or "identification")
    confidence = _("confidence {percent}").format(percent=f"{(message.confidence or 0):.0%}")
    if draft.text.strip():
        proposed = _("Draft #{id}:").format(id=draft.id) + f"\n{draft.text}"
    else:
        proposed = _("Every draft was rejected: press Edit to write the reply (#{id}).").format(
            id=draft.id
        )
    return (
        f"📨 {channel_label(message.channel)} · {who} · {where} · {stamp(message.sent_at)}\n"
        f"“{said}”\n"
        f"{kind} · {stage} · {confidence}\n\n"
        f"{proposed}"
    )


def staff_review(engine: Engine, channels: dict[str, Channel], chat_id: str | None):
    """The job, when a Telegram staff chat is configured and Telegram is on."""
    if not chat_id or "telegram" not in channels:
        return None
    return StaffReview(engine, channels["telegram"], chat_id)
