"""Findings 1, 5 and 6 of issue 16 against a real `replyline serve` (its pipeline worker in a
child process, as users run it): the first-start admin must set a password before anything
else, a logged-out cookie opens nothing, and a huge id on the public chat API is a 4xx."""

from __future__ import annotations

import re

import httpx

from bot.web.security import SESSION_COOKIE
from tests.support import ServeProcess


def test_first_login_logout_and_huge_ids_on_a_real_serve(tmp_path):
    log = tmp_path / "serve.log"
    server = ServeProcess(f"sqlite:///{tmp_path / 'replyline.db'}", log)
    try:
        password = re.search(r"'admin'，密碼：(\S+)", log.read_text()).group(1)  # zh-Hant
        with httpx.Client(base_url=server.url, timeout=10) as admin:
            first = admin.post("/console/login", data={"username": "admin", "password": password})
            assert first.status_code == 303 and first.headers["location"] == "/console/password"
            assert admin.get("/console").headers.get("location") == "/console/password"
            page = admin.get("/console/password").text
            token = re.search(r'name="csrf" value="([^"]+)"', page).group(1)
            chosen = admin.post(
                "/console/password",
                data={"csrf": token, "current": password, "new": "our own secret 42",
                      "repeat": "our own secret 42"},
            )  # fmt: skip
            assert chosen.status_code == 303
            assert admin.get("/console").status_code == 200
            cookie = admin.cookies.get(SESSION_COOKIE)
            token = re.search(r'name="csrf" value="([^"]+)"', admin.get("/console").text).group(1)
            assert admin.post("/console/logout", data={"csrf": token}).status_code == 303
        with httpx.Client(base_url=server.url, timeout=10) as stolen:
            stolen.cookies.set(SESSION_COOKIE, cookie)
            assert stolen.get("/console").headers.get("location") == "/console/login"
            assert stolen.get("/openapi.json").status_code == 303
        with httpx.Client(base_url=server.url, timeout=10) as visitor:
            visitor.get("/chat")
            said = visitor.post("/chat/api/messages", json={"text": "hi", "client_id": "serve-01"})
            assert said.status_code == 200
            huge = visitor.get("/chat/api/messages", params={"after": str(2**63)})
            assert huge.status_code == 422
        assert "Traceback" not in log.read_text()
    finally:
        server.kill()
