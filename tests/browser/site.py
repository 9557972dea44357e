"""One seeded replyline for the page tests: served once per module, with something on every
console page (queue items, a handoff, an incident, a ticket, a proposal, a planned post, sent
replies for the report and the audit log)."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlmodel import select

from db.engine import session_scope
from db.models import Draft, Incident, Message, User
from tests.adapters.support import PASSWORD, add_user, approve_in_console, console, rows
from tests.fakes import line_webhooks as lw
from tests.fakes.live_app import LiveApp, platform_settings, wait_until
from tests.playbooks.browser import Browser

ROOT = Path(__file__).resolve().parents[2]
SHOTS = ROOT / "test-artifacts" / "screenshots"
WIDTHS = {"phone": (390, 844), "desktop": (1280, 900)}
LANGUAGES = {"zh": "zh-TW,zh;q=0.9", "en": "en-US,en;q=0.9"}
# customer texts: a long unbroken one, and long words, to try the layout
MESSAGES = [
    ("complaint", "complaint: 我要提告，你們的果醬讓我肚子痛，訂單 A12345678 到現在都沒有回覆！"),
    (
        "question",
        "question: 請問營業時間？https://example.com/a/very/long/link/that/never/breaks/anywhere",
    ),
    ("advocate", "advocate: 果醬好好吃！建議出大瓶裝"),
    ("question", "question: 轉真人"),
    ("question", "question: Do you ship overseas? supercalifragilisticexpialidocious-jam-question"),
]


def seed(live: LiveApp, api) -> dict:
    """Messages through signed LINE webhooks, one reply approved and sent, a planned post.
    Returns ids the page list needs."""
    users = [lw.user_id(n) for n in range(1, len(MESSAGES) + 1)]
    api.profiles.update({u: f"客人{n}" for n, u in enumerate(users, 1)})
    for user, (_, text) in zip(users, MESSAGES, strict=True):
        raw = lw.body(lw.text_event(text, user, api=api))
        response = live.post("/webhooks/line", raw, lw.headers(raw))
        assert response.status_code == 200, response.text
    engine = live.services.engine

    def processed():
        messages = rows(engine, Message, Message.direction == "in")
        return len(messages) == len(MESSAGES) and all(m.state != "received" for m in messages)

    wait_until(processed, what="the messages to be processed", timeout=120)
    [incident] = wait_until(lambda: rows(engine, Incident), what="an incident")
    add_user(engine, "boss", role="admin")
    agent = console(live, "boss")
    [message] = rows(engine, Message, Message.text == MESSAGES[2][1])
    [draft] = rows(engine, Draft, Draft.message_id == message.id, Draft.rank == 0)
    approve_in_console(agent, draft.id)
    agent.close()
    wait_until(lambda: rows(engine, Draft, Draft.id == draft.id, Draft.status == "sent"),
               what="the reply to be sent")  # fmt: skip
    from bot.calendar.posts import create_post

    zone = ZoneInfo(live.settings.timezone)
    with session_scope(engine) as session:
        boss = session.exec(select(User).where(User.username == "boss")).one()
        create_post(session, boss, text="本週新品：柚子果醬上市，歡迎到門市試吃！" * 3,
                    target="line:broadcast", when=datetime.now(zone) + timedelta(days=1),
                    stage_goal="relationship", timezone=live.settings.timezone)  # fmt: skip
    return {"incident": incident.id, "today": datetime.now(zone).date()}


def log_in(browser: Browser, base: str) -> None:
    browser.open(f"{base}/console/login")
    browser.wait("document.querySelector('input[name=password]') !== null")
    browser.js(f"""(() => {{
        document.querySelector('input[name=username]').value = 'boss';
        document.querySelector('input[name=password]').value = {json.dumps(PASSWORD)};
        document.querySelector('form.login').requestSubmit();
    }})()""")
    browser.wait("location.pathname === '/console'")


def emulate(browser: Browser, width: str, language: str) -> None:
    """A phone or a desktop window, and a browser that asks for this language."""
    w, h = WIDTHS[width]
    browser.call("Emulation.setDeviceMetricsOverride", width=w, height=h, deviceScaleFactor=1,
                 mobile=width == "phone")  # fmt: skip
    browser.call("Network.setExtraHTTPHeaders", headers={"Accept-Language": LANGUAGES[language]})


def settings_for(sqlite_url: str, line):
    return platform_settings(sqlite_url, line=line)
