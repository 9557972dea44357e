"""A person's browser that meets an error gets a small page in their language with a way back;
programs (webhooks, APIs, .json routes, the console's own script) keep their JSON errors."""

from __future__ import annotations

from tests.i18n.conftest import CHINESE, ENGLISH, browser, csrf_of

HTML = {"Accept": "text/html,application/xhtml+xml,*/*;q=0.8"}


def test_an_unknown_address_is_a_page_in_the_browsers_language(app):
    for language, title, back, lang in (
        (ENGLISH, "Page not found", "Back to the console", '<html lang="en">'),
        (CHINESE, "找不到這個頁面", "回到主控台", '<html lang="zh-Hant-TW">'),
    ):
        answer = browser(app, {**language, **HTML}).get("/console/nowhere")
        assert answer.status_code == 404
        assert answer.headers["content-type"].startswith("text/html")
        assert lang in answer.text and title in answer.text
        assert f'href="/console">{back}</a>' in answer.text


def test_a_forbidden_page_says_why_in_the_readers_language_with_the_console_around_it(app):
    for language, why in ((ENGLISH, "this needs the admin role"), (CHINESE, "這需要管理員權限")):
        agent = browser(app, {**language, **HTML}, "mei")
        answer = agent.get("/console/users")
        assert answer.status_code == 403 and answer.headers["content-type"].startswith("text/html")
        assert why in answer.text
        assert 'action="/console/logout"' in answer.text  # the console's navigation is there


def test_the_users_own_language_beats_the_browser_on_an_error_page(app):
    agent = browser(app, {**CHINESE, **HTML}, "mei")
    queue = agent.get("/console")
    agent.post("/console/language", data={"csrf": csrf_of(queue.text), "locale": "en"})
    assert "Page not found" in agent.get("/nowhere").text


def test_a_wrong_method_and_an_expired_form_are_pages_too(app):
    client = browser(app, {**CHINESE, **HTML}, "mei")
    wrong = client.get("/console/logout")
    assert wrong.status_code == 405 and "這個頁面不能這樣開啟" in wrong.text
    assert wrong.headers["allow"] == "POST"
    expired = client.post("/console/messages/1/dismiss", data={"csrf": "stale", "reason": "x"})
    assert expired.status_code == 403 and "表單已過期" in expired.text
    invalid = client.get("/console/audit", params={"action": "x" * 40})
    assert invalid.status_code == 422 and "送出的內容有誤" in invalid.text


def test_the_chats_visitors_are_led_back_to_the_chat(app):
    answer = browser(app, {**CHINESE, **HTML}).get("/chat/nowhere")
    assert answer.status_code == 404 and 'href="/chat">回到線上客服</a>' in answer.text


def test_programs_keep_their_json_errors(app):
    anyone = browser(app, ENGLISH)
    assert anyone.get("/nowhere").json() == {"detail": "Not Found"}
    json_client = browser(app, {**ENGLISH, "Accept": "application/json"}, "mei")
    assert json_client.get("/console/users").json() == {"detail": "this needs the admin role"}
    # a browser's Accept on an API or a .json route, or the console's fetch, still gets JSON
    agent = browser(app, {**ENGLISH, **HTML}, "mei")
    assert (
        agent.get("/console/reports.json?from=x")
        .headers["content-type"]
        .startswith("application/json")
    )
    fetched = agent.get("/console/users", headers={"x-requested-with": "fetch"})
    assert fetched.status_code == 403 and fetched.json() == {"detail": "this needs the admin role"}
    webhook = agent.post("/webhooks/nowhere", json={})
    assert webhook.status_code == 404 and webhook.json() == {"error": "channel nowhere is off"}
    stale = browser(app, ENGLISH, "mei").post("/console/messages/1/dismiss", data={"csrf": "stale"})
    assert stale.status_code == 403
    assert stale.json() == {"error": "the form expired; reload the page and try again"}


def test_a_missing_incident_and_an_unknown_language_are_refused_in_the_readers_words(app):
    client = browser(app, {**CHINESE, **HTML}, "mei")
    missing = client.get("/console/incidents/999")
    assert missing.status_code == 404 and "事件 999 不存在" in missing.text
    queue = client.get("/console")
    refused = client.post("/console/language", data={"csrf": csrf_of(queue.text), "locale": "xx"})
    assert refused.status_code == 422 and "不支援的語言" in refused.text


def test_a_number_too_large_for_the_database_is_refused_in_the_readers_words(app):
    client = browser(app, {**CHINESE, **HTML}, "mei")
    answer = client.get("/console/incidents/99999999999")
    assert answer.status_code == 422 and "incident_id 超出範圍" in answer.text
