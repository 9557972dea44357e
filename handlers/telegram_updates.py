"""Telegram updates (parsed by python-telegram-bot) as replyline's inbound events.

- private, group and supergroup messages; a reply to the bot keeps its link to our message
- edited messages: kind "edit", linked to the original (the pipeline classifies an edit but
  drafts nothing for it: the original's drafts stay in review with the text that was answered)
- stickers, photos, voice and other non-text messages: stored with their kind; a caption is
  their text, so they are classified like text, and as `other` without one
- button presses (callback queries): kind "postback" with the button data as `action`
- reactions (`message_reaction`, sent only to a bot that administers the group and asked for
  them): kind "reaction" linked to the message reacted to, with the emoji as text; a changed
  reaction is "reaction_changed" and a withdrawn one "reaction_removed", so reports count each
  person's reaction once. Channels react anonymously (counts only), which is not an event here
- the staff chat is not a customer conversation: only replies there to one of the bot's
  messages become events (kind "staff_reply", action "reply:<id>"); everything else is dropped
"""

from __future__ import annotations

from telegram import CallbackQuery, Message, MessageReactionUpdated, ReactionTypeEmoji, Update

from handlers.base import InboundEvent

# Telegram's message attributes, in the order they are checked, and replyline's name for them
CONTENT_TYPES = (
    ("text", "text"),
    ("sticker", "sticker"),
    ("photo", "image"),
    ("animation", "animation"),
    ("video", "video"),
    ("video_note", "video"),
    ("voice", "voice"),
    ("audio", "audio"),
    ("document", "file"),
    ("venue", "location"),
    ("location", "location"),
    ("contact", "contact"),
    ("poll", "poll"),
    ("dice", "dice"),
)
GROUP_TYPES = ("group", "supergroup")


def content_type(message: Message) -> str:
    for attribute, name in CONTENT_TYPES:
        if getattr(message, attribute, None):
            return name
    return "other"


def update_events(
    update: Update, raw: dict, bot_id: str, staff_chat_id: str | None
) -> list[InboundEvent]:
    """The events in one update (none for updates replyline does not handle)."""
    event_id = f"{bot_id}:{update.update_id}"
    if update.callback_query is not None:
        return [_press(update.callback_query, event_id, raw)]
    if update.message_reaction is not None:
        reaction = update.message_reaction
        staff = staff_chat_id is not None and str(reaction.chat.id) == staff_chat_id
        return [] if staff else [_reaction(reaction, event_id, raw)]
    message = update.message or update.edited_message
    if message is None or message.from_user is None or message.from_user.is_bot:
        return []
    if staff_chat_id is not None and str(message.chat.id) == staff_chat_id:
        return _staff_reply(message, event_id, raw, bot_id)
    edited = update.edited_message is not None
    kind = "edit" if edited else "message"
    answerable = True
    if message.new_chat_members:
        kind, answerable = "member_joined", False
    elif message.left_chat_member:
        kind, answerable = "member_left", False
    elif content_type(message) == "other":
        answerable = False  # service messages: pins, title changes, migrations...
    chat = message.chat
    user = message.from_user
    reply_to = message.reply_to_message
    return [
        InboundEvent(
            channel="telegram",
            event_id=event_id,
            chat_id=str(chat.id),
            chat_kind="group" if chat.type in GROUP_TYPES else "direct",
            chat_title=chat.title,
            user_id=str(user.id),
            user_name=user.full_name,
            kind=kind,
            content_type=content_type(message),
            text=message.text or message.caption,
            platform_message_id=None if edited else str(message.message_id),
            edit_of_platform_message_id=str(message.message_id) if edited else None,
            reply_to_platform_message_id=str(reply_to.message_id) if reply_to else None,
            answerable=answerable,
            sent_at=message.edit_date if edited and message.edit_date else message.date,
            raw=raw,
        )
    ]


def _press(query: CallbackQuery, event_id: str, raw: dict) -> InboundEvent:
    chat = query.message.chat if query.message is not None else None
    return InboundEvent(
        channel="telegram",
        event_id=event_id,
        chat_id=str(chat.id if chat else query.from_user.id),
        chat_kind="group" if chat and chat.type in GROUP_TYPES else "direct",
        chat_title=chat.title if chat else None,
        user_id=str(query.from_user.id),
        user_name=query.from_user.full_name,
        kind="postback",
        content_type="button",
        action=query.data or "",
        platform_message_id=str(query.message.message_id) if query.message else None,
        answerable=False,
        raw=raw,
    )


def _reaction(reaction: MessageReactionUpdated, event_id: str, raw: dict) -> InboundEvent:
    new = [r.emoji if isinstance(r, ReactionTypeEmoji) else r.type for r in reaction.new_reaction]
    kind = "reaction_changed" if reaction.old_reaction else "reaction"
    user = reaction.user  # None when an anonymous admin reacted for the group
    return InboundEvent(
        channel="telegram",
        event_id=event_id,
        chat_id=str(reaction.chat.id),
        chat_kind="direct" if reaction.chat.type == "private" else "group",
        chat_title=reaction.chat.title,
        user_id=str(user.id) if user else None,
        user_name=user.full_name if user else None,
        kind=kind if new else "reaction_removed",
        content_type="reaction",
        text=" ".join(new) or None,
        reply_to_platform_message_id=str(reaction.message_id),
        answerable=False,
        sent_at=reaction.date,
        raw=raw,
    )


def _staff_reply(message: Message, event_id: str, raw: dict, bot_id: str) -> list[InboundEvent]:
    reply_to = message.reply_to_message
    if (
        reply_to is None
        or reply_to.from_user is None
        or str(reply_to.from_user.id) != bot_id
        or not message.text
        or message.from_user is None  # nobody to hold to the decision
        or message.edit_date  # an edited reply is not a second decision
    ):
        return []
    return [
        InboundEvent(
            channel="telegram",
            event_id=event_id,
            chat_id=str(message.chat.id),
            chat_kind="group" if message.chat.type in GROUP_TYPES else "direct",
            chat_title=message.chat.title,
            user_id=str(message.from_user.id),
            user_name=message.from_user.full_name,
            kind="staff_reply",
            text=message.text,
            action=f"reply:{reply_to.message_id}",
            platform_message_id=str(message.message_id),
            answerable=False,
            sent_at=message.date,
            raw=raw,
        )
    ]
