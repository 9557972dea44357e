"""Hostile input on every inbound endpoint: whatever arrives (malformed JSON, wrong types,
missing fields, huge bodies, deep nesting, invalid UTF-8, control characters, 10,000 emoji)
gets a 4xx or is stored, never a 5xx, and a request is stored whole or not at all."""

import json
from urllib.parse import quote

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func
from sqlmodel import Session, select

from bot.pipeline import ingest
from bot.services import Services
from bot.web.app import create_app
from db.models import Contact, Conversation, Message
from tests.reliability.endpoints import ABSENT, ENDPOINTS, Endpoint, probe_channel

EXAMPLES = {"sqlite": 150, "postgresql": 40}

control = st.text(st.characters(max_codepoint=0x1F), min_size=1, max_size=20)
odd_unicode = st.sampled_from(
    ["\x00", "a\x00b", "\ud800", "x\udfffy", "\u202etxt", "\ufeff", "\u200b", "\U0010ffff"]
)
emoji = st.text(st.sampled_from("😀🔥👍🏽🇹🇼‍♀️🧧"), min_size=1, max_size=300)
hostile_text = st.one_of(
    st.text(max_size=200),
    st.text(st.characters(codec="utf-8", exclude_categories=()), max_size=50),
    control,
    odd_unicode,
    emoji,
    st.just("😀" * 10_000),
    st.text(min_size=300, max_size=600).map(lambda t: t * 20),
)
scalars = st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(allow_nan=True), hostile_text
)
json_values = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=10), inner, max_size=4)
    ),
    max_leaves=12,
)
good_id = st.from_regex(r"[A-Za-z0-9_-]{8,64}", fullmatch=True)


def field(good):
    return st.one_of(good, json_values, st.just(ABSENT))


message_fields = st.fixed_dictionaries(
    {
        "id": field(good_id),
        "chat": field(good_id),
        "user": field(good_id),
        "text": field(hostile_text),
        "name": field(hostile_text),
        "title": field(hostile_text),
        "kind": field(st.sampled_from(["message", "edit", "follow"])),
    }
)


# Well-formed events with hostile content: ids a platform could send, anything else inside.
valid_fields = st.fixed_dictionaries(
    {
        "id": good_id,
        "chat": st.one_of(good_id, hostile_text),
        "user": st.one_of(good_id, hostile_text, st.none()),
        "text": hostile_text,
        "name": st.one_of(hostile_text, st.none()),
        "title": st.one_of(hostile_text, st.none()),
        "kind": st.sampled_from(["message", "edit", "follow", "a-kind-nobody-knows" * 3]),
    }
)


def deep(n: int, kind: str) -> bytes:
    if kind == "list":
        return b"[" * n + b"]" * n
    if kind == "dict":
        return b'{"a":' * n + b"1" + b"}" * n
    return b"[" * n  # unbalanced


def bodies(endpoint: Endpoint):
    """Every kind of hostile body, as bytes."""
    shaped = st.lists(message_fields, min_size=0, max_size=3).map(endpoint.shape)
    well_formed = st.lists(valid_fields, min_size=1, max_size=3).map(endpoint.shape)
    return st.one_of(
        well_formed.map(lambda v: json.dumps(v).encode()),
        well_formed.map(
            lambda v: json.dumps(v, ensure_ascii=False).encode("utf-8", "surrogatepass")
        ),
        st.binary(max_size=2000),
        json_values.map(lambda v: json.dumps(v).encode()),
        shaped.map(lambda v: json.dumps(v).encode()),  # lone surrogates as \\ud800 escapes
        shaped.map(lambda v: json.dumps(v, ensure_ascii=False).encode("utf-8", "surrogatepass")),
        st.tuples(st.integers(1, 200_000), st.sampled_from(["list", "dict", "open"])).map(
            lambda a: deep(*a)
        ),
        st.binary(min_size=1, max_size=40).map(
            lambda junk: b'{"text": "' + junk + b'", "client_id": "abcdefgh99", "events": []}'
        ),
        st.just(b""),
    )


def counts(engine) -> tuple[int, int, int]:
    with Session(engine) as session:
        return tuple(
            session.exec(select(func.count()).select_from(table)).one()
            for table in (Message, Contact, Conversation)
        )


@pytest.fixture
def target(request, settings, classifier):
    """(endpoint, client, services): an app with the endpoint's channel on."""
    endpoint: Endpoint = request.param
    app_settings = settings.updated(pipeline={"worker_enabled": False}, **endpoint.settings)
    services = Services.build(app_settings, classifier=lambda: classifier)
    services.channels["probe"] = probe_channel()
    app = create_app(app_settings, services)
    with TestClient(app) as client:
        if endpoint.needs_visitor:
            client.get("/chat")
        yield endpoint, client, services
    services.engine.dispose()


def post(client, endpoint: Endpoint, body: bytes, content_type="application/json"):
    headers = {"content-type": content_type, **endpoint.headers(body)}
    return client.post(endpoint.path, content=body, headers=headers)


def check(client, endpoint, services, body, content_type="application/json"):
    before = counts(services.engine)
    response = post(client, endpoint, body, content_type)
    after = counts(services.engine)
    assert response.status_code < 500, (response.status_code, response.text, body[:200])
    if response.status_code < 300:
        stored = response.json()["stored"]
        assert after[0] - before[0] == stored, "the answer and the database disagree"
    else:
        assert 400 <= response.status_code < 500
        assert after == before, "a refused request left rows behind"
    return response


endpoint_params = [pytest.param(e, id=e.name) for e in ENDPOINTS]


@pytest.mark.parametrize("target", endpoint_params, indirect=True)
def test_any_body_gets_a_4xx_or_is_stored_whole(target, database_url):
    endpoint, client, services = target

    @settings(
        max_examples=EXAMPLES["postgresql" if "postgresql" in database_url else "sqlite"],
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
        database=None,
    )
    @given(body=bodies(endpoint))
    def attack(body):
        check(client, endpoint, services, body)

    attack()


@pytest.mark.parametrize("target", endpoint_params, indirect=True)
def test_a_body_over_the_limit_is_refused_unread_with_413(target):
    endpoint, client, services = target
    limit = services.settings.web.max_body_bytes
    huge = b'{"text": "' + b"x" * (limit + 10) + b'"}'
    assert check(client, endpoint, services, huge).status_code == 413

    def chunks():  # no Content-Length: the limit holds while streaming
        for _ in range(limit // 4096 + 2):
            yield b"x" * 4096

    response = client.post(
        endpoint.path,
        content=chunks(),
        headers={"content-type": "application/json", **endpoint.headers(b"")},
    )
    assert response.status_code == 413


@pytest.mark.parametrize("target", endpoint_params, indirect=True)
def test_ten_thousand_emoji_are_refused_or_kept_intact(target):
    endpoint, client, services = target
    text = "🧧😀" * 5_000
    body = json.dumps(
        endpoint.shape(
            [{"id": "emoji-0001", "chat": "emoji-chat", "user": "emoji-user", "text": text}]
        ),
        ensure_ascii=False,
    ).encode()
    response = check(client, endpoint, services, body)
    if response.status_code == 200:
        with Session(services.engine) as session:
            assert session.exec(select(Message)).one().text == text


@pytest.mark.parametrize("target", endpoint_params, indirect=True)
def test_wrong_content_types_and_methods_are_4xx(target):
    endpoint, client, services = target
    for content_type in ("text/plain", "application/x-www-form-urlencoded", "multipart/form-data"):
        check(client, endpoint, services, b"text=hi", content_type)
    assert client.put(endpoint.path, content=b"{}").status_code == 405


forgeable = [pytest.param(e, id=e.name) for e in ENDPOINTS if e.forged]


@pytest.mark.parametrize("target", forgeable, indirect=True)
def test_a_forged_signature_or_secret_is_refused_and_stores_nothing(target):
    endpoint, client, services = target
    numeric = endpoint.name == "telegram"  # Telegram's ids are numbers, LINE's strings
    item = {"id": 1001 if numeric else "forged-0001", "text": "hi"}
    item |= {"chat": 42, "user": 42} if numeric else {"chat": "c", "user": "U" + "f" * 32}
    body = json.dumps(endpoint.shape([item])).encode()
    forgeries = [endpoint.forged(body), {}]
    if endpoint.headers(body + b" ") != endpoint.headers(body):  # a signature of another body
        forgeries.append(endpoint.headers(body + b" "))
    for headers in forgeries:
        response = client.post(
            endpoint.path, content=body, headers={"content-type": "application/json", **headers}
        )
        assert response.status_code in (400, 401, 403), response.status_code
        assert counts(services.engine) == (0, 0, 0)
    genuine = post(client, endpoint, body)  # the genuine one is accepted and stored
    assert genuine.status_code == 200 and genuine.json()["stored"] == 1


@pytest.mark.parametrize("target", [endpoint_params[1]], indirect=True)
def test_unknown_webhook_channels_are_404(target):
    _, client, _ = target

    @settings(max_examples=50, deadline=None, database=None)
    @given(name=st.text(st.characters(exclude_categories=("Cs",)), min_size=1, max_size=80))
    def attack(name):
        if name == "probe":
            return
        response = client.post("/webhooks/" + quote(name, safe=""), content=b"{}")
        assert response.status_code in (404, 405), response.status_code

    attack()


@pytest.mark.parametrize("target", [endpoint_params[1]], indirect=True)
def test_a_request_whose_store_fails_midway_stores_nothing(target, monkeypatch):
    endpoint, client, services = target
    real = ingest._store
    calls = []

    def store_then_fail(session, event):
        calls.append(event.event_id)
        if len(calls) == 2:
            raise ConnectionError("database connection lost mid-request")
        return real(session, event)

    monkeypatch.setattr(ingest, "_store", store_then_fail)
    events = [{"id": f"half-{i}", "chat": "c1", "user": "u1", "text": f"m{i}"} for i in range(3)]
    body = json.dumps(endpoint.shape(events)).encode()
    response = post(client, endpoint, body)
    assert response.status_code == 503, "the platform must redeliver"
    assert counts(services.engine) == (0, 0, 0), "the first event was stored alone"
    monkeypatch.setattr(ingest, "_store", real)
    assert post(client, endpoint, body).json()["stored"] == 3
