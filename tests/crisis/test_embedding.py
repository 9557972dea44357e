"""A message is embedded once: crisis detection reuses the classifier's sentence embedding."""

from __future__ import annotations

import asyncio
from collections import Counter

import numpy as np
import pytest
from sqlmodel import Session, select

from bot.crisis.monitor import Embedder
from bot.pipeline.ingest import store_events
from bot.services import Services
from db.models import Incident, Message
from handlers.base import InboundEvent
from nlp.types import Classification
from tests.playbooks.support import ngram_embed

TEXTS = [
    "我兩週前下的訂單到現在還沒出貨，客服也完全不回",
    "  你們再不退款，我就提告  ",
    "請問週末有開嗎",
    "今天的拿鐵超好喝！",
    "垃圾店家，難吃死了還敢賣這麼貴",
    "The app keeps crashing when I pay",
]


@pytest.fixture(scope="module")
def model():
    from nlp.classifier import load_classifier

    return load_classifier()


@pytest.fixture
def embedded(model, monkeypatch) -> Counter:
    """How often each text went through the shared encoder."""
    counts: Counter = Counter()
    encoder, embed = model.encoder, model.encoder.embed

    def counting(texts, *args, **kwargs):
        counts.update(texts)
        return embed(texts, *args, **kwargs)

    monkeypatch.setattr(encoder, "embed", counting)
    return counts


def test_each_message_of_a_batch_is_embedded_once(settings, model, embedded):
    services = Services.build(settings, classifier=lambda: model)
    services.pipeline.playbooks.faq.embed = ngram_embed  # FAQ search aside: not counted here
    events = [
        InboundEvent(channel="line", event_id=f"e{i}", chat_id=f"u{i}", user_id=f"u{i}", text=t)
        for i, t in enumerate(TEXTS)
    ]
    try:
        store_events(services.engine, events)
        asyncio.run(services.worker.run_until_idle())
        with Session(services.engine) as session:
            assert {m.state for m in session.exec(select(Message)).all()} == {"processed"}
            [incident] = session.exec(select(Incident)).all()  # the legal threat was checked
        assert "legal threat" in incident.title
        assert {t.strip(): embedded[t.strip()] for t in TEXTS} == {t.strip(): 1 for t in TEXTS}
    finally:
        if services.crisis is not None:
            services.crisis.close()
        services.engine.dispose()


def test_the_embedder_embeds_only_what_came_without_a_usable_vector():
    calls: list[list[str]] = []

    def embed(texts):
        calls.append(list(texts))
        return np.ones((len(texts), 4), dtype=np.float32) / 2

    embedder = Embedder(embed, model="e5-small")
    given = np.array([0.6, 0.8, 0.0, 0.0], dtype=np.float32)
    messages = [Message(id=i, channel="web", conversation_id=1, text=f"m{i}") for i in (1, 2, 3)]
    results = [
        Classification("complaint", {}, -0.6, "en", embedding=given, embedding_model="e5-small"),
        Classification("complaint", {}, -0.6, "en", embedding=given, embedding_model="other"),
        Classification("complaint", {}, -0.6, "en"),  # e.g. the scripted test classifier
    ]
    vectors = embedder.for_messages(messages, results)
    assert calls == [["m2", "m3"]]  # another encoder's vector is not the same kind
    np.testing.assert_array_equal(vectors[0], given)
    assert embedder.for_messages(messages, results) and calls == [["m2", "m3"]]  # remembered
