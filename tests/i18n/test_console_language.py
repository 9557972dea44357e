"""The console speaks the user's language: their setting, then the browser's, then the brand's."""

from __future__ import annotations

from sqlmodel import Session

from db.models import User
from tests.i18n.conftest import CHINESE, ENGLISH, browser, csrf_of


def test_a_chinese_browser_gets_the_login_page_in_chinese(app):
    page = browser(app, CHINESE).get("/console/login")
    assert '<html lang="zh-Hant-TW">' in page.text
    assert "登入" in page.text and "帳號" in page.text
    assert "Log in" not in page.text and "Username" not in page.text
    assert "台北時間" in page.text  # the zone is named once
    assert page.text.count("台北時間") == 1


def test_an_english_browser_gets_english(app):
    page = browser(app, ENGLISH).get("/console/login")
    assert '<html lang="en">' in page.text
    assert "Log in" in page.text and "登入" not in page.text


def test_a_browser_without_a_preference_gets_the_brand_default(app):
    assert (
        '<html lang="zh-Hant-TW">'
        in browser(app, {"Accept-Language": ""}).get("/console/login").text
    )


def test_a_wrong_password_is_told_in_the_browsers_language(app):
    for headers, text in ((CHINESE, "帳號或密碼錯誤"), (ENGLISH, "Wrong username or password")):
        answer = browser(app, headers).post(
            "/console/login", data={"username": "mei", "password": "nope"}
        )
        assert answer.status_code == 401
        assert text in answer.text


def test_the_users_choice_beats_the_browser_and_follows_them_to_another_device(app, services):
    client = browser(app, CHINESE, "mei")
    queue = client.get("/console")
    assert "登出" in queue.text
    changed = client.post(
        "/console/language",
        data={"csrf": csrf_of(queue.text), "locale": "en", "back": "/console/audit?page=1"},
        follow_redirects=False,
    )
    assert changed.status_code == 303
    assert changed.headers["location"] == "/console/audit?page=1"
    with Session(services.engine) as session:
        assert session.get(User, 1).locale == "en"
    assert "Log out" in client.get("/console").text
    other_device = browser(app, CHINESE, "mei")
    page = other_device.get("/console")
    assert '<html lang="en">' in page.text and "Log out" in page.text
    # "auto" returns to the browser's language
    other_device.post("/console/language", data={"csrf": csrf_of(page.text), "locale": "auto"})
    assert "登出" in other_device.get("/console").text


def test_the_switcher_refuses_unknown_languages_and_foreign_return_addresses(app):
    client = browser(app, ENGLISH, "mei")
    token = csrf_of(client.get("/console").text)
    refused = client.post("/console/language", data={"csrf": token, "locale": "xx"})
    assert refused.status_code == 422
    for back in ("https://evil.example/console", "//evil.example/console", "/chat"):
        answer = client.post(
            "/console/language",
            data={"csrf": token, "locale": "en", "back": back},
            follow_redirects=False,
        )
        assert answer.headers["location"] == "/console"


def test_the_switcher_needs_the_csrf_token(app):
    client = browser(app, ENGLISH, "mei")
    assert client.post("/console/language", data={"locale": "en"}).status_code == 403


def test_the_queue_speaks_the_browsers_language(app):
    chinese = browser(app, CHINESE, "mei").get("/console").text
    assert "待審佇列" in chinese and "沒有待處理的訊息" in chinese and "篩選" in chinese
    assert "Review queue" not in chinese and "Nothing waiting" not in chinese
    english = browser(app, ENGLISH, "mei").get("/console").text
    assert "Review queue" in english and "Nothing waiting" in english and "待審佇列" not in english


def test_the_incident_list_speaks_the_browsers_language(app):
    chinese = browser(app, CHINESE, "mei").get("/console/incidents").text
    assert "危機事件" in chinese and "目前沒有危機事件" in chinese and "Incidents" not in chinese
    english = browser(app, ENGLISH, "mei").get("/console/incidents").text
    assert "No incidents so far" in english and "危機事件" not in english
