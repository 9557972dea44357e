"""The console as the team uses it: the queue with everything needed to decide, filters,
claims, corrections, proposals, admin pages, and the audit log with its CSV export."""

from __future__ import annotations

import asyncio
import csv
import io
import re

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session, select

from bot.services import Services
from bot.web.app import create_app
from bot.web.security import hash_password
from db.engine import session_scope
from db.models import Draft, Feedback, Proposal, User
from tests.playbooks.support import LabelClassifier

FETCH = {"x-requested-with": "fetch"}


@pytest.fixture
def classifier():
    return LabelClassifier()


@pytest.fixture
def services(settings, classifier):
    settings.pipeline.worker_enabled = False
    built = Services.build(settings, classifier=lambda: classifier)
    with session_scope(built.engine) as session:
        for name, role in (("mei", "agent"), ("bo", "agent"), ("boss", "supervisor"),
                           ("root", "admin")):  # fmt: skip
            session.add(User(username=name, password_hash=hash_password(name * 4), role=role))
    yield built
    built.engine.dispose()


@pytest.fixture
def app(services, settings):
    return create_app(settings, services)


def login(app, name):
    client = TestClient(app)
    response = client.post("/console/login", data={"username": name, "password": name * 4},
                           follow_redirects=False)  # fmt: skip
    assert response.status_code == 303
    return client


def csrf(client) -> str:
    return re.search(r'name="csrf" value="([^"]+)"', client.get("/console").text).group(1)


def chat(app, services, classifier, *lines):
    """A customer writes each "label: text" line in the web chat; the pipeline runs."""
    with TestClient(app) as customer:
        customer.get("/chat")
        for n, line in enumerate(lines):
            label, _, text = line.partition(": ")
            classifier.labels[text] = label
            response = customer.post("/chat/api/messages",
                                     json={"text": text, "client_id": f"client{n:04d}"})  # fmt: skip
            assert response.status_code == 200
    asyncio.run(services.worker.run_until_idle())


def pending(services):
    with Session(services.engine) as session:
        return session.exec(select(Draft).where(Draft.status == "pending")
                            .order_by(Draft.message_id, Draft.rank)).all()  # fmt: skip


def test_an_item_shows_context_history_scores_candidates_and_its_deadline(
    app, services, classifier
):
    chat(
        app,
        services,
        classifier,
        "advocate: 你們的果醬好好吃",
        "complaint/angry: 可是這次寄來是壞的！",
    )
    mei = login(app, "mei")
    page = mei.get("/console").text
    assert "2 waiting" in page
    chinese = mei.get("/console", headers={"Accept-Language": "zh-TW"}).text
    assert "為什麼是這些草稿：<span" in chinese  # a Chinese colon, not ": "
    assert "Why these drafts: <span" in page
    assert "可是這次寄來是壞的！" in page and "你們的果醬好好吃" in page  # context
    assert "Complaint · Angry" in page and "<meter" in page  # scores
    assert "complaint/angry" in page and "CS-0000" in page  # candidates with the ticket
    assert "target 20 min" in page and "due in" in page
    assert page.index("可是這次寄來是壞的") < page.index('data-message-id="1"')  # complaints first


def test_the_queue_filters_by_type_language_and_assignee(app, services, classifier):
    chat(app, services, classifier, "question: 你們的老闆是誰", "troll: you are clowns")
    mei = login(app, "mei")
    assert "1 waiting" in mei.get("/console?type=troll").text
    english = mei.get("/console/queue?language=en").text
    assert "1 waiting" in english and '<blockquote class="customer-text">you are clowns' in english
    message_id = pending(services)[0].message_id
    token = csrf(mei)
    assert mei.post(f"/console/messages/{message_id}/assign", data={"csrf": token, "to": "me"},
                    headers=FETCH).json() == {"ok": True, "assignee": "mei"}  # fmt: skip
    assert "1 waiting" in mei.get("/console/queue?assignee=me").text
    assert "1 waiting" in mei.get("/console/queue?assignee=none").text
    assert "answering: <strong>mei</strong>" in mei.get("/console/queue?assignee=mei").text


def test_a_claimed_message_is_refused_to_anyone_else(app, services, classifier):
    chat(app, services, classifier, "question: 你們的老闆是誰")
    mei, bo = login(app, "mei"), login(app, "bo")
    draft = pending(services)[0]
    mei.post(
        f"/console/messages/{draft.message_id}/assign", data={"csrf": csrf(mei)}, headers=FETCH
    )
    refused = bo.post(f"/console/drafts/{draft.id}/approve", data={"csrf": csrf(bo)}, headers=FETCH)
    assert refused.status_code == 409 and "mei is answering" in refused.json()["detail"]
    ok = mei.post(f"/console/drafts/{draft.id}/approve", data={"csrf": csrf(mei), "text": "小森"},
                  headers=FETCH)  # fmt: skip
    assert ok.json() == {"ok": True, "status": "edited"}


def test_one_click_correction_is_stored_as_feedback(app, services, classifier):
    chat(app, services, classifier, "question: 東西壞了")
    mei = login(app, "mei")
    message_id = pending(services)[0].message_id
    response = mei.post(f"/console/messages/{message_id}/correct",
                        data={"csrf": csrf(mei), "field": "type", "value": "complaint"},
                        headers=FETCH)  # fmt: skip
    assert response.status_code == 200 and response.json()["redrafting"] is True
    with Session(services.engine) as session:
        assert session.exec(select(Feedback)).one().value == "complaint"
    asyncio.run(services.worker.run_until_idle())  # the worker drafts for the new label
    fresh = pending(services)
    assert fresh and {d.playbook.split("/")[0] for d in fresh} == {"complaint"}
    bad = mei.post(f"/console/messages/{message_id}/correct",
                   data={"csrf": csrf(mei), "field": "type", "value": "villain"})  # fmt: skip
    assert bad.status_code == 422


def test_no_reply_for_a_troll_is_one_decision(app, services, classifier):
    chat(app, services, classifier, "troll: 垃圾公司")
    mei = login(app, "mei")
    message_id = pending(services)[0].message_id
    mei.post(
        f"/console/messages/{message_id}/dismiss", data={"csrf": csrf(mei), "reason": "不回應"}
    )
    assert pending(services) == []
    assert "no_reply" in mei.get("/console/audit").text


def test_proposals_page_moves_a_proposal_and_tells_the_contributor(app, services, classifier):
    chat(app, services, classifier, "advocate: 建議你們出<b>小包裝</b>")
    mei = login(app, "mei")
    page = mei.get("/console/proposals").text
    assert "建議你們出&lt;b&gt;小包裝&lt;/b&gt;" in page
    assert 'data-message="' in page and "已進入團隊評估" in page
    with Session(services.engine) as session:
        proposal = session.exec(select(Proposal)).one()
    response = mei.post(f"/console/proposals/{proposal.id}/status",
                        data={"csrf": csrf(mei), "status": "under_review", "notify": "yes",
                              "message": "您的提案評估中"}, headers=FETCH)  # fmt: skip
    assert response.status_code == 200
    with Session(services.engine) as session:
        assert session.get(Proposal, proposal.id).status == "under_review"
        notice = session.exec(select(Draft).where(Draft.status == "approved")).one()
    assert notice.text == "您的提案評估中"


def test_only_admins_manage_users_playbooks_and_settings(app, services):
    mei, root = login(app, "mei"), login(app, "root")
    for path in ("/console/users", "/console/playbooks", "/console/settings"):
        assert mei.get(path).status_code == 403
        assert root.get(path).status_code == 200
    token = csrf(root)
    root.post("/console/users", data={"csrf": token, "username": "new", "password": "longpassword",
                                      "role": "supervisor"})  # fmt: skip
    with Session(services.engine) as session:
        user = session.exec(select(User).where(User.username == "new")).one()
    assert user.role == "supervisor"
    root.post(f"/console/users/{user.id}", data={"csrf": token, "active": "no",
                                                  "password": "anotherpassword"})  # fmt: skip
    settings_page = root.get("/console/settings").text
    assert "test-secret-key" not in settings_page and "(set)" in settings_page
    assert "REPLYLINE_TELEGRAM_BOT_TOKEN" in settings_page and "Telegram" in settings_page
    chinese = root.get("/console/settings", headers={"Accept-Language": "zh-TW"}).text
    assert "資料庫" in chinese and "（已設定）" in chinese and "test-secret-key" not in chinese
    exported = root.get("/console/audit.csv").text
    assert "user_add" in exported and "user_change" in exported
    assert "longpassword" not in exported and "anotherpassword" not in exported
    assert "$argon2" not in exported


def test_a_broken_playbook_is_not_loaded_and_the_running_ones_stay(app, services, tmp_path):
    (tmp_path / "troll.yaml").write_text("type: troll\ncolour: red\n", encoding="utf-8")
    services.settings.replies.playbook_dir = tmp_path
    root = login(app, "root")
    response = root.post("/console/playbooks/reload", data={"csrf": csrf(root)})
    assert response.status_code == 422
    assert "troll.yaml:2: playbook: unknown key &#39;colour&#39;" in response.text
    assert services.pipeline.playbooks.directory is not None


def test_the_audit_csv_lists_every_decision_safely(app, services, classifier):
    chat(app, services, classifier, 'complaint: =HYPERLINK("http://evil")')
    mei = login(app, "mei")
    draft = pending(services)[0]
    mei.post(f"/console/drafts/{draft.id}/approve",
             data={"csrf": csrf(mei), "text": "=cmd|' /C calc'!A0 抱歉"})  # fmt: skip
    response = mei.get("/console/audit.csv?action=edit")
    assert response.headers["content-type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(response.text.lstrip("\ufeff"))))
    assert rows[0][:4] == ["at", "username", "via", "action"]
    assert rows[1][1:4] == ["mei", "console", "edit"]
    assert rows[1][7] == "'=cmd|' /C calc'!A0 抱歉"  # a formula is quoted, not run
    assert rows[1][6] == draft.text


def test_customer_html_is_text_on_every_page(app, services, classifier):
    chat(
        app,
        services,
        classifier,
        "complaint: <script>alert(1)</script>",
        "advocate: 建議<img src=x onerror=alert(2)>",
    )
    mei = login(app, "mei")
    for path in ("/console", "/console/queue", "/console/tickets", "/console/proposals"):
        page = mei.get(path).text
        assert "<script>alert(1)</script>" not in page and "<img src=x" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in mei.get("/console").text
