"""Leave-one-source-out validation: each real pool is judged by a head that never saw it."""

from __future__ import annotations

import numpy as np

from nlp import loso
from nlp.types import COMMENTER_TYPES

# one direction per type, so a centroid head separates them when it has seen the type
DIRECTIONS = {t: np.eye(len(COMMENTER_TYPES))[i] for i, t in enumerate(COMMENTER_TYPES)}


def _rows(source, language, types, n=6):
    return [
        {"text": f"{source} {t} {i}", "type": t, "language": language, "source": source}
        for t in types
        for i in range(n)
    ]


class Centroids:
    """A nearest-centroid 'head' (logits = similarity to each class mean)."""

    def __init__(self, x, y):
        self.means = np.stack(
            [x[y == k].mean(0) if (y == k).any() else np.zeros(x.shape[1]) for k in range(5)]
        )

    def logits(self, x):
        return 5.0 * x @ self.means.T


def test_every_real_pool_is_predicted_by_a_head_that_never_saw_it():
    pool = (
        _rows("comments_synthetic.jsonl", "en", COMMENTER_TYPES)
        + _rows("real_en_a.jsonl", "en", ["troll", "other"])
        + _rows("real_en_b.jsonl", "en", ["question", "complaint"])
        + _rows("real_zh_c.jsonl", "zh-Hans", ["question", "other"])
    )
    calls: list[list[dict]] = []

    def matrix(rows):
        calls.append(list(rows))
        return np.stack([DIRECTIONS[r["type"]] for r in rows])

    report = loso.run(pool, matrix, Centroids, list, lambda z, y: 1.0)
    trained, tested = calls[0::2], calls[1::2]
    assert [rows[0]["source"] for rows in tested] == [
        "real_en_a.jsonl",
        "real_en_b.jsonl",
        "real_zh_c.jsonl",
    ]
    for train_rows, test_rows in zip(trained, tested, strict=True):
        held_out = test_rows[0]["source"]
        assert all(r["source"] == held_out for r in test_rows)
        assert all(r["source"] != held_out for r in train_rows)
    # synthetic pools teach but are never a test source
    assert "comments_synthetic.jsonl" not in report["by_source"]
    assert set(report["by_language"]) == {"en", "zh"}
    assert report["by_language"]["en"]["macro_f1"] == 1.0
    assert set(report["by_language"]["zh"]["per_class_f1"]) == {"question", "other"}
    assert report["n"] == 36


def test_no_real_pool_means_no_figures():
    pool = _rows("comments_synthetic.jsonl", "en", COMMENTER_TYPES)
    assert loso.run(pool, lambda rows: np.zeros((len(rows), 5)), Centroids, list, None) is None


def test_the_threshold_keeps_confident_predictions_accurate_within_the_low_rate():
    conf = np.array([0.95] * 70 + [0.6] * 15 + [0.4] * 15)
    correct = np.array([True] * 68 + [False] * 2 + [True] * 12 + [False] * 3 + [False] * 15)
    t = loso.pick_threshold(conf, correct)
    kept = conf >= t
    assert 1 - kept.mean() <= loso.MAX_LOW_RATE
    assert correct[kept].mean() >= loso.CONFIDENT_ACCURACY
    assert t <= 0.6  # the lowest such threshold: the 0.6 band still counts as confident
