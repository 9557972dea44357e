"""A reviewer's correction teaches the next training, on SQLite and PostgreSQL: the classifier
takes an off-topic personal post for a complaint, a reviewer corrects it to `other` in the review
path, and the heads retrained with the corrections read it as `other`."""

from __future__ import annotations

import asyncio

import pytest
from sqlmodel import Session, select

from bot.pipeline.ingest import store_events
from bot.review import decisions as review
from bot.web.security import hash_password
from db.engine import session_scope
from db.models import Feedback, Message, User
from handlers.base import InboundEvent

POST = "今天加班到十點才回家，累死了"  # someone's long day: not a complaint about the brand
HP = {"epochs": 10, "folds": 2}  # small and fixed: both trainings differ only by the correction


@pytest.fixture(scope="module")
def seed_pool():
    from nlp.dataset import DATA_DIR

    return [DATA_DIR / "seed.jsonl"]


@pytest.fixture(scope="module")
def embedding_cache(tmp_path_factory):
    """Training's embedding cache in a temporary dir (both trainings share it)."""
    with pytest.MonkeyPatch.context() as patch:
        path = tmp_path_factory.mktemp("embedding-cache")
        patch.setenv("REPLYLINE_CACHE_DIR", str(path))
        yield path


@pytest.fixture(scope="module")
def baseline(encoder, seed_pool, embedding_cache):
    """The classifier trained on the seed pool alone, before any correction."""
    from nlp.classifier import ModelClassifier
    from nlp.train import train

    heads, _ = train(paths=seed_pool, encoder=encoder, output=False, progress=False, hp=HP)
    return ModelClassifier(encoder, heads)


@pytest.fixture
def classifier(baseline):
    return baseline  # the pipeline classifies with the real model


def test_a_correction_in_review_changes_the_retrained_prediction(
    services, database_url, baseline, encoder, seed_pool, embedding_cache
):
    from nlp import dataset
    from nlp.classifier import ModelClassifier
    from nlp.feedback import load_feedback
    from nlp.train import apply_feedback, train, training_split

    event = InboundEvent(channel="web", event_id="e1", chat_id="u1", user_id="u1", text=POST)
    message_id = store_events(services.engine, [event])[0].message_id
    asyncio.run(services.worker.run_until_idle())
    with Session(services.engine) as session:
        assert session.get(Message, message_id).type == "complaint"  # the model's mistake

    with session_scope(services.engine) as session:
        mei = User(username="mei", password_hash=hash_password("x" * 12), role="agent")
        session.add(mei)
        session.flush()
        review.correct(session, message_id, mei, "type", "other")
    with Session(services.engine) as session:
        stored = session.exec(select(Feedback)).one()
    assert (stored.text, stored.field, stored.value) == (POST, "type", "other")

    # what `replyline train --with-feedback` reads, and where the example lands
    corrections = load_feedback(database_url)
    assert corrections == [{"text": POST, "field": "type", "value": "other"}]
    rows = apply_feedback(dataset.load_labelled(seed_pool, strict=False), corrections)
    parts = training_split(rows)
    trained = [r for r in parts["train"] + parts["dev"] if r["text"] == POST]
    assert [(r["type"], r["corrected"]) for r in trained] == [("other", True)]
    assert all(r["text"] != POST for r in parts["test"])  # a correction is never held out

    heads, _ = train(
        paths=seed_pool,
        feedback=corrections,
        encoder=encoder,
        output=False,
        progress=False,
        hp=HP,
    )
    assert heads.meta["feedback_rows"] == 1 and heads.meta["corrections_trained"] == 1
    before = baseline.classify([POST])[0]
    after = ModelClassifier(encoder, heads).classify([POST])[0]
    print(
        f"{POST}: {before.type} {before.scores[before.type]:.3f} before, "
        f"{after.type} {after.scores[after.type]:.3f} after the retrain "
        f"(other {before.scores['other']:.3f} -> {after.scores['other']:.3f})"
    )
    assert before.type == "complaint" and after.type == "other"
    assert after.scores["other"] > before.scores["other"]
