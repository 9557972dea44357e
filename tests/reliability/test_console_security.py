"""Console security: CSRF on every state-changing route, login rate limits that hold across
processes, cookie flags behind a TLS proxy, security headers, and a role check on every page."""

import importlib
import pkgutil
import re

import pytest
from fastapi.routing import iter_route_contexts
from fastapi.testclient import TestClient

import bot.web.routes
from bot.services import Services
from bot.web.app import create_app
from bot.web.csrf import EXEMPT, ORIGIN_ONLY, UNSAFE, exempt
from bot.web.security import SESSION_COOKIE, hash_password
from db.engine import session_scope
from db.models import User

PASSWORD = "correct horse battery"


@pytest.fixture
def make_app(settings, classifier):
    """Build an app (one per "process"); all share the test database."""
    settings.pipeline.worker_enabled = False
    built = []

    def make(**overrides):
        app_settings = settings.updated(**overrides)
        services = Services.build(app_settings, classifier=lambda: classifier)
        built.append(services)
        return create_app(app_settings, services)

    yield make
    for services in built:
        services.engine.dispose()


@pytest.fixture
def app(make_app, services):
    with session_scope(services.engine) as session:
        for name, role in (("ada", "admin"), ("mei", "agent")):
            session.add(User(username=name, password_hash=hash_password(PASSWORD), role=role))
    return make_app()


def login(client, username="ada", password=PASSWORD, **kw):
    return client.post(
        "/console/login",
        data={"username": username, "password": password},
        follow_redirects=False,
        **kw,
    )


def logged_in(app, username="ada") -> TestClient:
    client = TestClient(app)
    assert login(client, username).status_code == 303
    return client


def csrf_of(client) -> str:
    return re.search(r'name="csrf" value="([^"]+)"', client.get("/console").text).group(1)


def concrete(path: str) -> str:
    return re.sub(r"\{[^}]+\}", "1", path)


def routes(app, methods):
    """Every (method, path) the app serves, routers included at any depth."""
    for route in iter_route_contexts(app.routes):
        for method in sorted((route.methods or set()) & methods):
            yield method, route.path


def declared(methods):
    """Every (method, path) the route modules declare, found without the app: a cross-check
    that walking the app's routes misses none."""
    for info in pkgutil.iter_modules(bot.web.routes.__path__):
        router = getattr(importlib.import_module(f"bot.web.routes.{info.name}"), "router", None)
        for route in getattr(router, "routes", []):
            for method in sorted((getattr(route, "methods", None) or set()) & methods):
                yield method, route.path


def guarded(pairs) -> set[tuple[str, str]]:
    return {(m, p) for m, p in pairs if not exempt(p) and p not in ORIGIN_ONLY}


# A multipart body (as an upload form sends) whose file no route reads, so nothing is stored.
UPLOAD = {"note": ("note.txt", b"hello", "text/plain")}


def test_every_state_changing_route_refuses_a_missing_or_forged_csrf_token(app):
    """The CSRF guard alone protects these routes (none checks a token itself), so every one
    must refuse a request without the session's token, however the body is encoded."""
    unsafe = guarded(routes(app, UNSAFE))
    assert guarded(declared(UNSAFE)) <= unsafe
    with logged_in(app) as admin, logged_in(app) as someone_else:
        token, other_token = csrf_of(admin), csrf_of(someone_else)
        genuine = [
            {"data": {"csrf": token}},
            {"data": {"csrf": token}, "files": UPLOAD},
            {"headers": {"X-CSRF-Token": token}},
        ]
        for i, (method, path) in enumerate(sorted(unsafe)):

            def status(**request) -> int:
                url = concrete(path)
                return admin.request(method, url, follow_redirects=False, **request).status_code

            refused = {
                "no body": status(),
                "forged": status(data={"csrf": "forged"}),
                "another session's": status(data={"csrf": other_token}),
                "multipart without": status(data={"text": "x"}, files=UPLOAD),
                "multipart forged": status(data={"csrf": "forged"}, files=UPLOAD),
                "forged header": status(headers={"X-CSRF-Token": "forged"}),
                "token in JSON": status(json={"csrf": token}),
            }
            assert set(refused.values()) == {403}, (method, path, refused)
            if path == "/console/logout":
                continue  # it would end the session; checked last
            request = genuine[i % len(genuine)]  # each way of sending it, on several routes
            assert status(**request) not in (403, 413), (method, path, request)
        # a genuine token gets through
        response = admin.post("/console/logout", data={"csrf": token})
        assert response.history and response.history[0].status_code == 303
    checked = {p for _, p in unsafe}
    assert {
        "/console/logout",
        "/console/drafts/{draft_id}/approve",
        "/console/posts",
        "/console/users",
        "/console/incidents/{incident_id}/resolve",
        "/console/tickets/{ticket_id}/close",
    } <= checked  # fmt: skip (one per module)


def test_exempt_routes_are_only_the_platform_webhooks_and_the_json_chat(app):
    exempt = {path for _, path in routes(app, UNSAFE) if any(path.startswith(p) for p in EXEMPT)}
    assert exempt <= {"/webhooks/{channel_name}", "/chat/api/messages"} | {
        p for p in exempt if p.startswith("/webhooks/")
    }


def test_a_cross_site_login_or_post_is_refused(app):
    with TestClient(app) as client:
        evil = login(client, headers={"Origin": "https://evil.example"})
        assert evil.status_code == 403
        assert login(client, headers={"Sec-Fetch-Site": "cross-site"}).status_code == 403
        assert login(client, headers={"Origin": "http://testserver"}).status_code == 303
        token = csrf_of(client)
        cross = client.post(
            "/console/logout", data={"csrf": token}, headers={"Origin": "https://evil.example"}
        )
        assert cross.status_code == 403


def test_five_failed_logins_lock_the_username_across_processes(make_app, app):
    other_process = make_app()
    with TestClient(app) as a, TestClient(other_process) as b:
        for client in (a, b, a, b, a):
            assert login(client, password="wrong guess").status_code == 401
        blocked = login(b)  # even the right password, from the other process
        assert blocked.status_code == 429 and int(blocked.headers["retry-after"]) > 0
        assert login(a, username="mei").status_code == 303, "other users are not locked"


def test_a_successful_login_clears_the_username_failures(app):
    with TestClient(app) as client:
        for _ in range(4):
            assert login(client, password="typo").status_code == 401
        assert login(client).status_code == 303
        for _ in range(4):
            assert login(client, password="typo").status_code == 401
        assert login(client).status_code == 303


def test_many_failures_from_one_address_lock_that_address(make_app, app):
    proxied = make_app(web={"trusted_proxies": "*", "login_max_failures_per_ip": 6})
    with TestClient(proxied) as client:
        attacker = {"X-Forwarded-For": "203.0.113.9"}
        for i in range(6):
            response = login(client, username=f"guess{i}", password="x", headers=attacker)
            assert response.status_code == 401
        assert login(client, headers=attacker).status_code == 429
        assert login(client, headers={"X-Forwarded-For": "198.51.100.7"}).status_code == 303


def cookie_header(response) -> str:
    return next(
        v for k, v in response.headers.multi_items() if k == "set-cookie" and SESSION_COOKIE in v
    ).lower()


def test_session_cookie_is_httponly_strict_and_secure_behind_a_trusted_tls_proxy(make_app, app):
    with TestClient(app) as client:
        plain = cookie_header(login(client))
        assert "httponly" in plain and "samesite=strict" in plain and "secure" not in plain
        # X-Forwarded-Proto from a client that is not a trusted proxy changes nothing
        spoofed = cookie_header(login(client, headers={"X-Forwarded-Proto": "https"}))
        assert "secure" not in spoofed
    behind_proxy = make_app(web={"trusted_proxies": "testclient"})
    with TestClient(behind_proxy) as client:
        tls = login(client, headers={"X-Forwarded-Proto": "https"})
        cookie = cookie_header(tls)
        assert "secure" in cookie and "httponly" in cookie and "samesite=strict" in cookie
        assert tls.headers["strict-transport-security"].startswith("max-age=")


def test_every_response_carries_security_headers_and_a_request_id(app):
    with TestClient(app) as client:
        for path in ("/console/login", "/chat", "/healthz", "/console"):
            response = client.get(path, follow_redirects=False)
            csp = response.headers["content-security-policy"]
            assert "script-src 'self'" in csp and "unsafe-inline" not in csp
            assert "frame-ancestors 'none'" in csp
            assert response.headers["x-frame-options"] == "DENY"
            assert response.headers["x-content-type-options"] == "nosniff"
            assert response.headers["referrer-policy"] == "same-origin"
            assert re.fullmatch(r"[0-9a-f]{32}", response.headers["x-request-id"])
        echoed = client.get("/healthz", headers={"X-Request-ID": "abc-123.4_5"})
        assert echoed.headers["x-request-id"] == "abc-123.4_5"
        forged = client.get("/healthz", headers={"X-Request-ID": "bad id\r\nx: y"})
        assert forged.headers["x-request-id"] != "bad id\r\nx: y"


def test_pages_serve_no_inline_scripts(app):
    with logged_in(app) as client:
        for path in ("/console", "/console/audit", "/console/login", "/chat"):
            html = client.get(path).text
            assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", html), path
            assert not re.search(r"\son[a-z]+\s*=", html), path


def test_every_console_page_needs_a_login(app):
    """A user without a known role cannot exist any more: the role column's CHECK constraint
    refuses it (tests/test_status_enums.py)."""
    pages = [
        p for _, p in routes(app, {"GET"}) if p.startswith("/console") and p not in ORIGIN_ONLY
    ]
    assert "/console" in pages and "/console/audit" in pages
    with TestClient(app) as stranger:
        for path in pages:
            anonymous = stranger.get(concrete(path), follow_redirects=False)
            assert anonymous.status_code in (303, 401), path
            if anonymous.status_code == 303:
                assert anonymous.headers["location"] == "/console/login"
