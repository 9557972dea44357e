"""Telegram updates as the Bot API documents them (Update, Message, CallbackQuery and
MessageReactionUpdated JSON)."""

from __future__ import annotations

import itertools
import time

WEBHOOK_SECRET = "fake-telegram-webhook-secret_0123456789"
_update_ids = itertools.count(500_000_001)
_message_ids = itertools.count(101)


def person(user_id: int, first_name: str = "Mei", last_name: str | None = "Lin") -> dict:
    user = {"id": user_id, "is_bot": False, "first_name": first_name, "language_code": "zh-hant"}
    if last_name:
        user["last_name"] = last_name
    return user


def chat(chat_id: int, title: str | None = None) -> dict:
    if chat_id < 0:
        return {"id": chat_id, "type": "supergroup", "title": title or "Brand fans"}
    return {"id": chat_id, "type": "private", "first_name": "Mei"}


def message(
    chat_id: int,
    user_id: int,
    text: str | None = None,
    *,
    message_id: int | None = None,
    reply_to: dict | None = None,
    first_name: str = "Mei",
    **content,
) -> dict:
    result = {
        "message_id": message_id or next(_message_ids),
        "from": person(user_id, first_name),
        "chat": chat(chat_id),
        "date": int(time.time()),
    }
    if text is not None:
        result["text"] = text
    if reply_to is not None:
        result["reply_to_message"] = reply_to
    result.update(content)
    return result


def update(**kinds) -> dict:
    """One update: update(message=...), update(edited_message=...), update(callback_query=...)."""
    return {"update_id": kinds.pop("update_id", None) or next(_update_ids), **kinds}


def text_update(chat_id: int, user_id: int, text: str, **kw) -> dict:
    return update(message=message(chat_id, user_id, text, **kw))


def edited_update(original: dict, new_text: str) -> dict:
    edited = dict(original["message"], text=new_text, edit_date=int(time.time()))
    return update(edited_message=edited)


def sticker(chat_id: int, user_id: int) -> dict:
    return update(
        message=message(
            chat_id,
            user_id,
            sticker={
                "file_id": "CAACAgIAAxkBAAEBfakeSticker",
                "file_unique_id": "AgADfake",
                "type": "regular",
                "width": 512,
                "height": 512,
                "is_animated": False,
                "is_video": False,
                "emoji": "👍",
            },
        )
    )


def photo(chat_id: int, user_id: int, caption: str | None = None) -> dict:
    sizes = [
        {"file_id": f"AgACfakePhoto{w}", "file_unique_id": f"AQAD{w}", "width": w, "height": w}
        for w in (90, 320, 800)
    ]
    extra = {"caption": caption} if caption else {}
    return update(message=message(chat_id, user_id, photo=sizes, **extra))


def voice(chat_id: int, user_id: int) -> dict:
    return update(
        message=message(
            chat_id,
            user_id,
            voice={"file_id": "AwACfakeVoice", "file_unique_id": "AgADv", "duration": 3},
        )
    )


def callback(data: str, user_id: int, card: dict, query_id: str | None = None) -> dict:
    """A press on an inline button under `card` (a message the bot sent, as Telegram has it)."""
    return update(
        callback_query={
            "id": query_id or str(next(_update_ids) * 7),
            "from": person(user_id, "Staff"),
            "message": card,
            "chat_instance": "-5555555555",
            "data": data,
        }
    )


def bot_message(chat_id: int, message_id: int, bot_id: int, text: str = "card") -> dict:
    """A message the bot sent earlier, as it appears inside updates (replied to, pressed)."""
    return {
        "message_id": message_id,
        "from": {"id": bot_id, "is_bot": True, "first_name": "Replyline"},
        "chat": chat(chat_id),
        "date": int(time.time()),
        "text": text,
    }


def reaction(
    chat_id: int, user_id: int, message_id: int, new: list[str] | None = None, old=()
) -> dict:
    """A member's reaction to a message, as Telegram sends it to a bot that administers the
    chat (`message_reaction`): emojis before and after; no `new` withdraws it."""
    return update(
        message_reaction={
            "chat": chat(chat_id),
            "message_id": message_id,
            "user": person(user_id, "Fan"),
            "date": int(time.time()),
            "old_reaction": [{"type": "emoji", "emoji": e} for e in old],
            "new_reaction": [{"type": "emoji", "emoji": e} for e in new or []],
        }
    )
