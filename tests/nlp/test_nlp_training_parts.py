"""The pieces training is built from: data split, heads files, metrics, feedback, folding."""

from __future__ import annotations

import json

import numpy as np
import pytest
from sqlalchemy import create_engine, text

from nlp import dataset, metrics
from nlp.feedback import load_feedback
from nlp.heads import Head, HeadSet, find_heads
from nlp.train import apply_feedback, augment_scripts, targets


def test_split_is_deterministic_and_script_folded():
    assert dataset.bucket("請問你們幾點開門") == dataset.bucket("请问你们几点开门")
    assert dataset.bucket("Hello  World") == dataset.bucket("hello world")
    texts = [f"message number {i}" for i in range(2000)]
    parts = [dataset.split_of(t) for t in texts]
    assert parts == [dataset.split_of(t) for t in texts]
    share = {p: parts.count(p) / len(parts) for p in ("train", "dev", "test")}
    assert 0.11 < share["test"] < 0.19 and 0.07 < share["dev"] < 0.13


def test_shipped_pools_parse_and_keep_a_heldout_part():
    rows = dataset.load_labelled()
    assert len(rows) >= 100
    parts = dataset.split(rows)
    assert parts["test"] and parts["dev"] and parts["train"]
    train_texts = {dataset.normalise(r["text"]) for r in parts["train"] + parts["dev"]}
    assert not any(dataset.normalise(r["text"]) in train_texts for r in parts["test"])


@pytest.mark.parametrize(
    ("row", "message"),
    [
        ({"type": "troll"}, "missing text"),
        ({"text": "x", "type": "spam"}, "type"),
        ({"text": "x", "type": "complaint", "subtype": "furious"}, "subtype"),
        ({"text": "x", "type": "other", "sentiment": "meh"}, "sentiment"),
        ({"text": "x", "type": "other", "language": "fr"}, "language"),
        ({"text": "x", "type": "other", "suggestion": "yes"}, "suggestion"),
    ],
)
def test_validate_rejects_bad_rows(row, message):
    with pytest.raises(dataset.DataError, match=message):
        dataset.validate(row, "f:1")


def test_read_jsonl_strict_and_lenient(tmp_path):
    p = tmp_path / "d.jsonl"
    p.write_text('{"text": "hi", "type": "other"}\nnot json\n{"text": "x", "type": "nope"}\n')
    with pytest.raises(dataset.DataError, match="d.jsonl:2"):
        dataset.read_jsonl(p)
    assert [r["text"] for r in dataset.read_jsonl(p, strict=False)] == ["hi"]


def test_heads_roundtrip_and_probabilities(tmp_path):
    rng = np.random.default_rng(0)
    head = Head(
        "type",
        ["troll", "complaint", "advocate", "question", "other"],
        [(rng.normal(size=(8, 4)), rng.normal(size=4)), (rng.normal(size=(4, 5)), np.zeros(5))],
        temperature=1.5,
    )
    hs = HeadSet("enc-x", 8, {"type": head}, {"thresholds": {"low_confidence": 0.6}})
    path = hs.save(tmp_path / "enc-x")
    assert path.name == "enc-x.npz" and path.with_suffix(".json").is_file()
    loaded = HeadSet.load(path)
    x = rng.normal(size=(3, 8)).astype(np.float32)
    np.testing.assert_allclose(
        loaded.heads["type"].predict_proba(x), head.predict_proba(x), rtol=0, atol=2e-3
    )
    assert loaded.heads["type"].predict_proba(x).sum(1) == pytest.approx([1, 1, 1], abs=1e-5)
    assert loaded.meta["thresholds"]["low_confidence"] == 0.6
    # a hotter temperature flattens the distribution
    cold = Head("t", head.labels, head.weights, 0.5).predict_proba(x).max(1)
    assert (cold >= head.predict_proba(x).max(1)).all()
    assert find_heads("enc-x", tmp_path) == path
    assert find_heads("no-such-encoder", tmp_path) is None


def test_metrics_known_values():
    gold = ["a", "a", "b", "b", "c"]
    pred = ["a", "b", "b", "b", "a"]
    stats = metrics.per_class(gold, pred, ["a", "b", "c"])
    assert stats["a"]["precision"] == 0.5 and stats["a"]["recall"] == 0.5
    assert stats["b"]["precision"] == pytest.approx(2 / 3) and stats["b"]["recall"] == 1.0
    assert stats["c"]["f1"] == 0.0
    assert metrics.macro_f1(gold, pred, ["a", "b", "c"]) == pytest.approx((0.5 + 0.8 + 0) / 3)
    assert metrics.confusion(gold, pred, ["a", "b", "c"]) == [[1, 1, 0], [0, 2, 0], [1, 0, 0]]
    rep = metrics.report(gold, pred, ["a", "b", "c"], ["x", "x", "y", "y", "y"])
    assert rep["by_group"]["x"]["n"] == 2 and rep["accuracy"] == 0.6


def test_augment_scripts_adds_the_other_script():
    rows = [
        {"text": "這個產品很爛", "type": "troll", "language": "zh-Hant"},
        {"text": "这个产品很烂", "type": "troll", "language": "zh-Hans"},
        {"text": "great", "type": "advocate", "language": "en"},
    ]
    out = augment_scripts(rows)
    texts = [r["text"] for r in out]
    assert "这个产品很烂" in texts and "這個產品很爛" in texts and len(out) == 5
    assert all(r["type"] == "troll" for r in out if r["text"] != "great")


def test_targets_use_only_rows_with_that_label():
    rows = [
        {"text": "a", "type": "complaint", "subtype": "angry", "suggestion": True},
        {"text": "b", "type": "question", "subtype": None, "sentiment": "neutral"},
        {"text": "c", "subtype": "misled"},  # a feedback row: only the subtype is known
    ]
    idx, y = targets(rows, "subtype")
    assert idx.tolist() == [0, 2] and y.tolist() == [0, 2]
    idx, y = targets(rows, "suggestion")
    assert idx.tolist() == [0] and y.tolist() == [1]
    idx, _ = targets(rows, "sentiment")
    assert idx.tolist() == [1]


def test_apply_feedback_overrides_and_adds():
    rows = [{"text": "這樣也能叫客服？", "type": "troll", "subtype": None}]
    out = apply_feedback(
        rows,
        [
            {"text": "這樣也能叫客服？", "field": "type", "value": "complaint"},
            {"text": "这样也能叫客服？", "field": "subtype", "value": "unhappy"},  # same, folded
            {"text": "new text", "field": "type", "value": "other"},
        ],
    )
    assert len(out) == 2
    assert (out[0]["type"], out[0]["subtype"]) == ("complaint", "unhappy")
    assert out[1] == {
        "text": "new text",
        "source": "feedback",
        "type": "other",
        "corrected": True,
        "subtype": None,
    }


@pytest.fixture
def feedback_db(tmp_path):
    url = f"sqlite:///{tmp_path / 'fb.db'}"
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(
            text(
                "CREATE TABLE feedback (id INTEGER PRIMARY KEY, message_id INTEGER, text TEXT, "
                "field VARCHAR(32), value TEXT, created_at TIMESTAMP, user_id INTEGER)"
            )
        )
        rows = [
            ("小編好可愛", "type", "advocate", "2024-01-01 09:00:00"),
            ("小編好可愛", "type", "other", "2024-01-02 09:00:00"),  # later correction wins
            ("你們是詐騙吧", "type", "troll", "2024-01-01 09:00:00"),
            ("你們是詐騙吧", "stage", "identification", "2024-01-01 09:00:00"),  # not trained
            ("退款呢？", "subtype", "angry", "2024-01-01 09:00:00"),
            ("退款呢？", "type", "not-a-type", "2024-01-01 09:00:00"),  # invalid value
            ("可以出小包裝嗎", "suggestion", "true", "2024-01-01 09:00:00"),
            ("可以出大包裝嗎", "suggestion", "0", "2024-01-01 09:00:00"),
            ("   ", "type", "other", "2024-01-01 09:00:00"),  # no text
        ]
        for i, (t, f, v, ts) in enumerate(rows):
            conn.execute(
                text(
                    "INSERT INTO feedback (message_id, text, field, value, created_at, user_id) "
                    "VALUES (:m, :t, :f, :v, :ts, 1)"
                ),
                {"m": i, "t": t, "f": f, "v": v, "ts": ts},
            )
    engine.dispose()
    return url


def test_load_feedback_reads_trained_fields_latest_first(feedback_db):
    rows = load_feedback(feedback_db)
    as_set = {(r["text"], r["field"], json.dumps(r["value"])) for r in rows}
    assert as_set == {
        ("小編好可愛", "type", '"other"'),
        ("你們是詐騙吧", "type", '"troll"'),
        ("退款呢？", "subtype", '"angry"'),
        ("可以出小包裝嗎", "suggestion", "true"),
        ("可以出大包裝嗎", "suggestion", "false"),
    }
    assert all(set(r) == {"text", "field", "value"} for r in rows)
