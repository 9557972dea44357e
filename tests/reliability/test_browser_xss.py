"""Customer text is shown as text on every console page, in a real browser (headless Chromium).

Hostile messages and a hostile LINE display name arrive through correctly signed LINE webhooks
and become drafts, an incident, a ticket, a proposal, a handoff, report examples and audit
entries. On each console page that shows them the markup must be visible literally, no element
of it may exist in the DOM, and nothing may run: no `window.__xss`, no "xss-ran" in the console,
no dialog. One more message arrives while the queue is open and is inserted live.

The console's Content-Security-Policy alone would stop inline script from running; the browser
is told to bypass it, so this test proves the escaping by itself (the header is checked in
tests/reliability/test_console_security.py).
"""

from __future__ import annotations

import hashlib
import json
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import numpy as np
import pytest

from db.models import Draft, Incident, Message
from tests.adapters.support import PASSWORD, add_user, approve_in_console, console, rows
from tests.fakes import line_webhooks as lw
from tests.fakes.live_app import LiveApp, line_api, platform_settings, wait_until  # noqa: F401
from tests.playbooks.browser import Browser, require_chromium

RUN = "window.__xss=(window.__xss||0)+1;console.log('xss-ran')"
SCRIPT = f"<script>{RUN}</script>"
IMG = f'<img src=x onerror="{RUN};alert(1)">'
BREAKOUT = f'"\'></textarea></q></blockquote><svg onload="{RUN}">'
NAME = f'</textarea></span><img src=x onerror="{RUN}">Mallory'

ADVOCATE = f"advocate: 果醬好好吃！{SCRIPT}"  # its drafts thank the customer by (hostile) name
QUESTION_1 = f"question: 請問營業時間？{SCRIPT}"
QUESTION_2 = f"question: 請問有沒有素食？{IMG}"
LEGAL = f"complaint: 我要提告 {IMG}"  # a legal threat: incident and ticket
SUGGESTION = f"advocate: 建議出大瓶裝 {BREAKOUT}"  # a proposal
HANDOFF = f"question: 轉真人 {BREAKOUT}"  # waiting for a person
LIVE = f"question: 還在嗎？ {IMG} {SCRIPT} live"

INJECTED = (  # anything that would exist only if customer markup had been parsed as HTML
    "document.querySelectorAll('script:not([src]), [onerror], [onload], img[src=\"x\"], svg')"
    ".length"
)
ITEMS = "document.querySelectorAll('#queue article.item').length"


class HashEncoder:
    """Stands in for the sentence encoder (FAQ search, crisis stories): deterministic vectors
    from character pairs. Escaping does not depend on it, and loading the real model would take
    most of this test's time budget."""

    dim = 64

    def embed(self, texts, prefix: str = "query: ", **_) -> np.ndarray:
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for row, text in enumerate(texts):
            for i in range(max(len(text) - 1, 1)):
                digest = hashlib.blake2b(text[i : i + 2].encode(), digest_size=2).digest()
                out[row, int.from_bytes(digest, "big") % self.dim] += 1
        return out / np.maximum(np.linalg.norm(out, axis=1, keepdims=True), 1e-9)


@pytest.fixture
def chromium():
    return require_chromium()


@pytest.fixture
def live(sqlite_url, classifier, line_api, monkeypatch):  # noqa: F811
    import nlp.encoder
    import playbooks.faq

    monkeypatch.setattr(nlp.encoder, "get_encoder", lambda *a, **k: HashEncoder())
    # FAQ vectors cached by an earlier test come from the real encoder, not this stand-in
    monkeypatch.setattr(playbooks.faq, "_INDEXES", {})
    app = LiveApp(platform_settings(sqlite_url, line=line_api), classifier).start()
    yield app
    app.stop()


@pytest.fixture
def browser(chromium):
    driver = Browser(chromium)
    driver.call("Log.enable")
    driver.call("Page.setBypassCSP", enabled=True)
    yield driver
    driver.close()


def say(live, api, user: str, text: str) -> None:
    """One message through a correctly signed LINE webhook."""
    raw = lw.body(lw.text_event(text, user, api=api))
    response = live.post("/webhooks/line", raw, lw.headers(raw))
    assert response.status_code == 200 and response.json()["stored"] == 1, response.text


def processed(live, count: int) -> bool:
    messages = rows(live.services.engine, Message, Message.direction == "in")
    return len(messages) == count and all(m.state != "received" for m in messages)


def check_page(
    browser: Browser, base: str, path: str, shown: list[str], ready: str = "true"
) -> None:
    """Open a console page; the hostile texts are visible as text and nothing of them runs."""
    browser.open(base + path)
    # `complete` comes after every image has loaded or failed, so an onerror would have run
    browser.wait(f"location.pathname + location.search === {json.dumps(path)} && "
                 f"document.readyState === 'complete' && ({ready})")  # fmt: skip
    assert_inert(browser, path, shown)


def assert_inert(browser: Browser, where: str, shown: list[str]) -> None:
    assert browser.js("typeof window.__xss") == "undefined", f"{where}: customer script ran"
    ran = [m for m in browser.console_messages() if "xss-ran" in m]
    assert not ran, f"{where}: the console logged {ran}"
    assert browser.dialogs == [], f"{where}: a dialog opened: {browser.dialogs}"
    assert browser.js(INJECTED) == 0, f"{where}: customer markup became elements"
    text = browser.js("document.body.innerText")
    missing = [s for s in shown if s not in text]
    assert not missing, f"{where}: not shown literally: {missing}\npage: {text[:1500]}"


def test_hostile_customer_text_is_shown_as_text_on_every_console_page(live, line_api, browser):  # noqa: F811
    users = [lw.user_id(n) for n in range(1, 8)]
    line_api.profiles.update({u: f"customer {n}" for n, u in enumerate(users, 1)})
    line_api.profiles[users[0]] = NAME
    texts = [ADVOCATE, QUESTION_1, QUESTION_2, LEGAL, SUGGESTION, HANDOFF]
    for user, text in zip(users, texts, strict=False):
        say(live, line_api, user, text)
    wait_until(
        lambda: processed(live, len(texts)), what="the messages to be processed", timeout=120
    )
    [incident] = wait_until(lambda: rows(live.services.engine, Incident), what="an incident")
    add_user(live.services.engine, "boss", role="supervisor")

    browser.open(f"{live.url}/console/login")
    browser.wait("document.querySelector('input[name=password]') !== null")
    browser.js(f"""(() => {{
        document.querySelector('input[name=username]').value = 'boss';
        document.querySelector('input[name=password]').value = {json.dumps(PASSWORD)};
        document.querySelector('form.login').requestSubmit();
    }})()""")
    browser.wait("location.pathname === '/console'")

    queue = [ADVOCATE, QUESTION_1, QUESTION_2, LEGAL, SUGGESTION, HANDOFF, NAME]
    check_page(browser, live.url, "/console", queue, ITEMS)
    check_page(browser, live.url, "/console/incidents", [])
    check_page(browser, live.url, f"/console/incidents/{incident.id}", [LEGAL])
    check_page(browser, live.url, "/console/tickets", [LEGAL])
    check_page(browser, live.url, "/console/proposals", [SUGGESTION])

    # a new message while the queue is open: fetched and inserted without a reload
    check_page(browser, live.url, "/console", queue, ITEMS)
    browser.js("window.__marker = 'no reload'")
    before = browser.js(ITEMS)
    say(live, line_api, users[6], LIVE)
    browser.wait(f"{ITEMS} === {before + 1}", 30)
    assert browser.js("window.__marker") == "no reload"
    assert_inert(browser, "/console after a live update", [LIVE])

    # answered questions (holding replies) are the report's FAQ-gap examples; decisions are
    # in the audit log, the advocate's reply with the customer's name in it
    agent = console(live, "boss")
    approved = []
    for text in (QUESTION_1, QUESTION_2, ADVOCATE):
        [message] = rows(live.services.engine, Message, Message.text == text)
        [draft] = rows(live.services.engine, Draft, Draft.message_id == message.id, Draft.rank == 0)
        approve_in_console(agent, draft.id)
        approved.append(draft.id)
    agent.close()
    wait_until(
        lambda: all(
            d.status == "sent" for d in rows(live.services.engine, Draft, Draft.id.in_(approved))
        ),
        what="the three replies to be sent",
    )
    today = datetime.now(ZoneInfo(live.settings.timezone)).date()
    period = f"from={today - timedelta(days=1)}&to={today + timedelta(days=1)}"
    check_page(browser, live.url, f"/console/reports?{period}", [QUESTION_1, QUESTION_2])
    check_page(browser, live.url, "/console/audit", [NAME])
