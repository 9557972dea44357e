"""The admin pages answer a form where the change happened, in the reader's language."""

from __future__ import annotations

import re

from tests.i18n.conftest import CHINESE, ENGLISH, browser, csrf_of

HTML = {"Accept": "text/html"}


def row_of(html: str, username: str) -> str:
    return re.search(rf'<tr id="user-\d+"[^>]*>(?:(?!</tr>).)*>{username}<.*?</tr>', html, re.S)[0]


def test_adding_and_changing_a_user_is_confirmed_on_that_users_row(app):
    for headers, added, saved in ((CHINESE, "已新增。", "已儲存。"), (ENGLISH, "Added.", "Saved.")):
        admin = browser(app, {**headers, **HTML}, "root")
        name = f"new-{headers['Accept-Language'][:2]}"
        token = csrf_of(admin.get("/console/users").text)
        page = admin.post("/console/users", data={"csrf": token, "username": name,
                                                  "password": "longpassword", "role": "agent"})  # fmt: skip
        assert page.status_code == 200 and added in row_of(page.text, name)
        user_id = re.search(r'<tr id="user-(\d+)"', row_of(page.text, name))[1]
        page = admin.post(f"/console/users/{user_id}", data={"csrf": token, "role": "supervisor"})
        assert saved in row_of(page.text, name) and added not in page.text


def test_a_refused_user_form_says_why_in_the_readers_language(app):
    admin = browser(app, {**CHINESE, **HTML}, "root")
    token = csrf_of(admin.get("/console/users").text)
    refused = admin.post("/console/users/1", data={"csrf": token, "password": "short"})
    assert refused.status_code == 422 and "密碼至少要 8 個字元" in refused.text
    assert 'href="/console">回到主控台</a>' in refused.text  # no Referer: the console
