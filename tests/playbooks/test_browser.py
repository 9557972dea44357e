"""The review queue in a real browser (headless Chromium): log in, approve an edited draft with
the keyboard alone, watch the queue update without a reload, and see customer markup as text."""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from sqlmodel import Session, select

from bot.config import Settings
from bot.pipeline.ingest import store_events
from bot.services import Services
from bot.web.security import hash_password
from db.engine import session_scope
from db.models import AuditLog, Draft, User
from handlers.base import InboundEvent
from tests.playbooks.browser import Browser, require_chromium
from tests.playbooks.support import LabelClassifier
from tests.support import migrated_sqlite

ROOT = Path(__file__).resolve().parents[2]
XSS = '<img src=x onerror="window.__pwned=1"><script>window.__pwned=2</script>'


@pytest.fixture(scope="module")
def chromium():
    return require_chromium()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Customers:
    """Customers writing in the web chat, processed by the real pipeline in this process."""

    def __init__(self, url: str):
        self.classifier = LabelClassifier()
        settings = Settings(
            database={"url": url}, web={"secret_key": "browser-test-secret"}, _env_file=None
        )
        self.services = Services.build(settings, classifier=lambda: self.classifier)
        self.count = 0

    def say(self, user: str, line: str) -> int:
        label, _, text = line.partition(": ")
        self.classifier.labels[text] = label
        self.count += 1
        event = InboundEvent(channel="web", event_id=f"b{self.count}", chat_id=user, user_id=user,
                             user_name=user, text=text)  # fmt: skip
        stored = store_events(self.services.engine, [event])[0]
        asyncio.run(self.services.worker.run_until_idle())
        return stored.message_id


@pytest.fixture
def site(tmp_path):
    url = migrated_sqlite(tmp_path / "replyline.db")
    customers = Customers(url)
    with session_scope(customers.services.engine) as session:
        session.add(User(username="mei", password_hash=hash_password("mei password"), role="agent"))
    port = free_port()
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("REPLYLINE_")},
        "PYTHONPATH": str(ROOT),
        "REPLYLINE_DATABASE_URL": url,
        "REPLYLINE_SECRET_KEY": "browser-test-secret",
        "REPLYLINE_WORKER_POLL_SECONDS": "0.5",
    }
    server = subprocess.Popen([sys.executable, "-m", "bot", "serve", "--port", str(port)],
                              cwd=ROOT, env=env, stdout=subprocess.DEVNULL,
                              stderr=subprocess.PIPE)  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                break
        except httpx.HTTPError:
            time.sleep(0.2)
    else:
        server.kill()
        pytest.fail(f"the server did not start: {server.stderr.read().decode()[-2000:]}")
    yield base, customers
    server.terminate()
    try:
        server.wait(15)
    except subprocess.TimeoutExpired:
        server.kill()
    customers.services.engine.dispose()


@pytest.fixture
def browser(chromium):
    driver = Browser(chromium)
    yield driver
    driver.close()


def test_an_agent_works_the_queue_with_the_keyboard(site, browser, tmp_path):
    base, customers = site
    complaint = customers.say("amy", "complaint: 收到的果醬瓶子破了")
    customers.say("bob", f"question: {XSS}")

    browser.open(f"{base}/console/login")
    browser.wait("document.activeElement && document.activeElement.name === 'username'")
    browser.type("mei")
    browser.press("Tab")
    browser.type("mei password")
    browser.press("Enter")
    browser.wait(
        "location.pathname === '/console' && document.querySelectorAll('article.item').length === 2"
    )
    browser.js("window.__marker = 'no reload'")

    # customer markup is shown as text and never runs
    assert browser.js("window.__pwned === undefined")
    shown = browser.js(
        "[...document.querySelectorAll('blockquote.customer-text')].map(b => b.textContent)"
    )
    assert XSS in shown
    assert browser.js("document.querySelectorAll('blockquote img, blockquote script').length") == 0

    # the complaint comes first; edit its chosen draft and approve, keyboard only
    first = browser.js("document.querySelector('article.item.selected').dataset.messageId")
    assert first == str(complaint)
    # `e` keeps the draft's text: nothing selected, the cursor at the end, typing appends
    drafted = browser.js("document.querySelector('article.item.selected textarea').value")
    browser.press("e")
    browser.wait("document.activeElement.tagName === 'TEXTAREA'")
    caret = browser.js("[document.activeElement.selectionStart, document.activeElement.selectionEnd,"
                       " document.activeElement.value.length]")  # fmt: skip
    assert caret == [len(drafted)] * 3
    browser.type("案件已登記。")
    browser.press("Enter", ctrl=True)
    browser.wait(f"!document.querySelector('article.item[data-message-id=\"{complaint}\"]')")
    browser.wait("document.querySelector('.queue-meta .count').textContent === '1 waiting'")
    with Session(customers.services.engine) as session:
        approved = session.exec(select(Draft).where(Draft.message_id == complaint,
                                                    Draft.status.in_(("edited", "sent")))).one()  # fmt: skip
        audit = session.exec(select(AuditLog).where(AuditLog.draft_id == approved.id)).one()
    assert approved.text == drafted + "案件已登記。"
    assert (audit.username, audit.action, audit.via) == ("mei", "edit", "console")
    # the outcome is told where the message was (not at the top), by customer, without ids
    note = f"document.querySelector('#queue > .item-note[data-note-for=\"{complaint}\"]')"
    browser.wait(f"{note} && {note}.dataset.delivery === 'sent'", 20)
    assert "amy" in browser.js(f"{note}.textContent")
    assert browser.js(f"{note}.nextElementSibling.matches('article.item')")
    assert str(approved.id) not in browser.js(f"{note}.textContent")
    assert browser.js("document.getElementById('status').textContent") == ""

    # the explicit Edit button does the same as `e`
    browser.js("document.querySelector('article.item.selected .draft button.edit').click()")
    browser.wait("document.activeElement.tagName === 'TEXTAREA'")
    assert browser.js("document.activeElement.selectionStart === document.activeElement.value.length"
                      " && document.activeElement.selectionEnd === document.activeElement.value.length")  # fmt: skip
    browser.press("Escape")

    # a new message shows up by itself, pushed by server-sent events; no reload
    browser.wait("document.getElementById('queue').dataset.live === 'events'")
    customers.say("cai", "advocate: 謝謝你們，超好吃！")
    browser.wait("document.querySelector('.queue-meta .count').textContent === '2 waiting'", 20)
    assert browser.js("window.__marker") == "no reload"
    assert browser.js("window.__pwned === undefined")

    # reject one candidate with a reason, then answer nothing at all, by keyboard
    browser.press("j")
    target = browser.js("document.querySelector('article.item.selected').dataset.messageId")
    candidates = browser.js(
        "document.querySelector('article.item.selected').querySelectorAll('.draft').length"
    )
    browser.press("r")
    browser.wait("document.activeElement.name === 'reason'")
    browser.type("太制式")
    browser.press("Enter")
    browser.wait(f"document.querySelector('article.item[data-message-id=\"{target}\"]')"
                 f".querySelectorAll('.draft').length === {candidates - 1}")  # fmt: skip
    browser.press("n")
    browser.wait("document.activeElement.name === 'reason'")
    browser.press("a", ctrl=True, commands=["selectAll"])
    browser.type("已私下回覆")
    browser.press("Enter")
    browser.wait("document.querySelector('.queue-meta .count').textContent === '1 waiting'")
    browser.screenshot(tmp_path / "queue.png")
    with Session(customers.services.engine) as session:
        reasons = {
            d.reason
            for d in session.exec(select(Draft).where(Draft.message_id == int(target))).all()
        }
    assert reasons == {"太制式", "已私下回覆"}
