"""The inbound endpoints the hostile-input tests attack, and how to reach each one.

Each Endpoint knows its path, the headers a genuine sender adds (a signature, a secret token),
and how to wrap message-like fields into its platform's body shape, so the same strategies
drive every endpoint: the web chat, a generic webhook, and LINE and Telegram with genuine
signatures and secret tokens (so requests reach parsing) or forged ones."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from pydantic import SecretStr

from handlers.base import InboundEvent, RequestRejected
from tests.fakes import line_webhooks as lw
from tests.fakes import telegram_updates as tu
from tests.fakes.channel import FakeChannel

ABSENT = object()  # a field left out of the body altogether


@dataclass(frozen=True)
class Endpoint:
    name: str
    path: str
    channel: str  # the channel whose messages a 2xx stores
    shape: Callable[[list[dict[str, Any]]], Any]  # message-like fields -> the platform's body
    headers: Callable[[bytes], dict[str, str]] = lambda body: {}  # what a genuine sender adds
    needs_visitor: bool = False  # the web chat answers only a browser with a chat cookie
    forged: Callable[[bytes], dict[str, str]] | None = None  # a stranger's try at `headers`
    settings: dict[str, Any] = field(default_factory=dict)


def probe_events(body: bytes, headers: Mapping[str, str]) -> list[InboundEvent]:
    """A deliberately thin adapter's parsing, for the generic /webhooks/{name} route
    (`probe_channel`): it checks types as a careful adapter would and forwards every string as
    it came (any length, any character), so the tests reach what the shared webhook code and
    the store do with whatever an adapter hands them. It indexes required keys directly, as
    adapters tend to."""
    payload = json.loads(body)
    events = []
    for item in payload["events"]:
        if not isinstance(item, dict):
            raise RequestRejected(422, "an event must be an object")
        fields = {k: item.get(k) for k in ("user", "text", "name", "title", "kind")}
        fields.update(id=item["id"], chat=item["chat"])
        if not all(v is None or isinstance(v, str) for v in fields.values()):
            raise RequestRejected(422, "fields must be strings")
        if fields["id"] is None or fields["chat"] is None:
            raise RequestRejected(422, "id and chat are required")
        events.append(
            InboundEvent(
                channel="probe",
                event_id=fields["id"],
                chat_id=fields["chat"],
                user_id=fields["user"],
                text=fields["text"],
                user_name=fields["name"],
                chat_title=fields["title"],
                kind=fields["kind"] or "message",
                raw=item,
            )
        )
    return events


def probe_channel() -> FakeChannel:
    return FakeChannel("probe", parse=probe_events)


def web_shape(items: list[dict[str, Any]]) -> Any:
    first = items[0] if items else {}
    return {
        k: v
        for k, v in (
            ("text", first.get("text")),
            ("client_id", first.get("id")),
            ("name", first.get("name")),
        )
        if v is not ABSENT
    }


def probe_shape(items: list[dict[str, Any]]) -> Any:
    return {"events": [{k: v for k, v in item.items() if v is not ABSENT} for item in items]}


def _present(**fields: Any) -> dict[str, Any]:
    return {k: v for k, v in fields.items() if v is not ABSENT}


def line_shape(items: list[dict[str, Any]]) -> Any:
    """A LINE webhook body: one text-message event per item."""
    events = [
        _present(
            type="message" if item.get("kind", "message") == "message" else item.get("kind"),
            webhookEventId=item.get("id", ABSENT),
            timestamp=1_700_000_000_000,
            mode="active",
            source=_present(type="user", userId=item.get("user", ABSENT)),
            replyToken=item.get("chat", ABSENT),
            message=_present(
                type="text",
                id=item.get("id", ABSENT),
                quoteToken="q-" + str(item.get("id")),
                text=item.get("text", ABSENT),
            ),
            deliveryContext={"isRedelivery": False},
        )
        for item in items
    ]
    return {"destination": lw.BOT_USER_ID, "events": events}


def telegram_shape(items: list[dict[str, Any]]) -> Any:
    """A Telegram update (one per request, as the Bot API delivers them) from the first item."""
    item = items[0] if items else {}
    return _present(
        update_id=item.get("id", ABSENT),
        message=_present(
            message_id=item.get("id", ABSENT),
            date=1_700_000_000,
            chat=_present(id=item.get("chat", ABSENT), type="private"),
            **{
                "from": _present(
                    id=item.get("user", ABSENT), is_bot=False, first_name=item.get("name", "Mei")
                )
            },
            text=item.get("text", ABSENT),
        ),
    )


NOWHERE = "http://127.0.0.1:9"  # outbound calls (e.g. LINE profiles) fail at once
ENDPOINTS = [
    Endpoint(
        "web-chat",
        "/chat/api/messages",
        "web",
        web_shape,
        needs_visitor=True,
        # one client sends every example: the chat's rate limits would answer most with 429
        settings={"chat": {"max_posts_per_visitor": 10**6, "max_posts_per_address": 10**6}},
    ),
    Endpoint("generic-webhook", "/webhooks/probe", "probe", probe_shape),
    Endpoint(
        "line",
        "/webhooks/line",
        "line",
        line_shape,
        headers=lw.headers,
        forged=lambda body: lw.headers(body, secret="not-the-channel-secret-0123456789"),
        settings={
            "line": {
                "channel_secret": SecretStr(lw.CHANNEL_SECRET),
                "channel_access_token": SecretStr("fake-line-access-token-0123456789"),
                "api_base": NOWHERE,
            }
        },
    ),
    Endpoint(
        "telegram",
        "/webhooks/telegram",
        "telegram",
        telegram_shape,
        headers=lambda body: {"X-Telegram-Bot-Api-Secret-Token": tu.WEBHOOK_SECRET},
        forged=lambda body: {"X-Telegram-Bot-Api-Secret-Token": "a-guessed-secret-token"},
        settings={
            "telegram": {
                "bot_token": SecretStr("7000000001:AAFakeTokenForTestsOnly_abcdefghijk12"),
                "webhook_secret": SecretStr(tu.WEBHOOK_SECRET),
                "api_base": NOWHERE,
            }
        },
    ),
]
