"""Leave-one-source-out validation: how the type head does on a kind of text it never saw.

Each pool of real comments (`real_*.jsonl`) is held out in turn: a type head is trained on
every other pool (synthetic ones included) and predicts the held-out pool. Synthetic pools
are never test sources, so the figures say how the model does on real text from a source it
was not fitted to. The pooled out-of-source predictions also set the softmax temperature and
the low-confidence threshold, so `low_confidence` is calibrated on unseen kinds of text.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from nlp import metrics
from nlp.dataset import is_real
from nlp.language import detect_language
from nlp.types import COMMENTER_TYPES

CONFIDENT_ACCURACY = 0.92  # wanted accuracy among predictions not marked low-confidence
MAX_LOW_RATE = 0.20  # at most this share marked low-confidence


def language_group(language: str | None) -> str:
    """Chinese (either script) or English, the groups the targets are set for."""
    return "zh" if str(language or "").startswith("zh") else str(language or "other")


def real_sources(rows: Sequence[dict]) -> list[str]:
    """The real pools present, in name order."""
    return sorted({r["source"] for r in rows if is_real(r)})


def pick_threshold(conf: np.ndarray, correct: np.ndarray) -> float:
    """The lowest threshold whose confident part reaches CONFIDENT_ACCURACY with at most
    MAX_LOW_RATE marked low; failing that, the one with the best confident accuracy within
    that rate."""
    best_t, best_acc = 0.0, -1.0
    for pct in range(30, 96):  # whole percents: the threshold returned is the one tested
        t = pct / 100
        keep = conf >= t
        if not keep.any() or 1.0 - keep.mean() > MAX_LOW_RATE:
            continue
        acc = float(correct[keep].mean())
        if acc >= CONFIDENT_ACCURACY:
            return t
        if acc > best_acc:
            best_t, best_acc = t, acc
    return best_t


def run(
    pool: Sequence[dict],
    matrix: Callable[[Sequence[dict]], np.ndarray],
    fit: Callable[[np.ndarray, np.ndarray], Any],
    augment: Callable[[Sequence[dict]], list[dict]],
    fit_temperature: Callable[[np.ndarray, np.ndarray], float],
) -> dict | None:
    """Out-of-source type predictions for every real pool and their report; None without at
    least one real pool. `pool` is every labelled row, the held-out split included (a source
    is judged on all its rows; training never sees that source). `fit(x, y)` returns a head
    with `.logits(x)`."""
    sources = real_sources(pool)
    if not sources:
        return None
    labels = list(COMMENTER_TYPES)
    logits, gold, langs, srcs = [], [], [], []
    for source in sources:
        train_rows = augment([r for r in pool if r["source"] != source])
        test_rows = [r for r in pool if r["source"] == source and r.get("type") in labels]
        train_rows = [r for r in train_rows if r.get("type") in labels]
        if not test_rows or len({r["type"] for r in train_rows}) < 2:
            continue
        head = fit(matrix(train_rows), np.array([labels.index(r["type"]) for r in train_rows]))
        logits.append(head.logits(matrix(test_rows)))
        gold += [labels.index(r["type"]) for r in test_rows]
        langs += [
            language_group(r.get("language") or detect_language(r["text"])) for r in test_rows
        ]
        srcs += [source] * len(test_rows)
    if not gold:
        return None
    z = np.concatenate(logits)
    y = np.array(gold)
    temperature = fit_temperature(z, y)
    s = z / temperature
    p = np.exp(s - s.max(1, keepdims=True))
    p /= p.sum(1, keepdims=True)
    pred = p.argmax(1)
    conf = p.max(1)
    threshold = pick_threshold(conf, pred == y)
    return summarise(y, pred, conf, langs, srcs, threshold, temperature)


def summarise(y, pred, conf, langs, srcs, threshold: float, temperature: float) -> dict:
    """The report kept in the heads' metadata and printed by `replyline eval --loso`."""
    labels = list(COMMENTER_TYPES)
    gold_l = [labels[i] for i in y]
    pred_l = [labels[i] for i in pred]
    low = conf < threshold
    correct = pred == y
    out: dict[str, Any] = {
        "n": len(y),
        "temperature": temperature,
        "low_confidence_threshold": threshold,
        "low_confidence_rate": round(float(low.mean()), 4),
        "accuracy_when_confident": round(float(correct[~low].mean()), 4) if (~low).any() else 0.0,
        "by_language": {},
        "by_source": {},
    }
    for group in sorted(set(langs)):
        idx = [i for i, g in enumerate(langs) if g == group]
        rep = metrics.report([gold_l[i] for i in idx], [pred_l[i] for i in idx], labels)
        out["by_language"][group] = {
            "n": len(idx),
            "macro_f1": round(rep["macro_f1"], 4),
            "accuracy": round(rep["accuracy"], 4),
            "per_class_f1": {
                k: round(v["f1"], 4) for k, v in rep["per_class"].items() if v["support"]
            },
            "support": {k: int(v["support"]) for k, v in rep["per_class"].items() if v["support"]},
            "confusion": rep["confusion"],
        }
    for source in sorted(set(srcs)):
        idx = [i for i, s in enumerate(srcs) if s == source]
        rep = metrics.report([gold_l[i] for i in idx], [pred_l[i] for i in idx], labels)
        out["by_source"][source] = {
            "n": len(idx),
            "macro_f1": round(rep["macro_f1"], 4),
            "accuracy": round(rep["accuracy"], 4),
            "per_class_f1": {
                k: round(v["f1"], 4) for k, v in rep["per_class"].items() if v["support"]
            },
            "low_confidence_rate": round(float(low[idx].mean()), 4),
        }
    return out


def format_report(rep: dict) -> str:
    """Human-readable LOSO figures: per language, per class, per source, confidence."""
    lines = [
        f"leave-one-source-out (real pools only, n={rep['n']}): each pool predicted by a head "
        "trained without it"
    ]
    for group, g in rep["by_language"].items():
        per = "  ".join(f"{k} {v:.3f} (n={g['support'][k]})" for k, v in g["per_class_f1"].items())
        lines.append(
            f"  {group:<4} macro-F1 {g['macro_f1']:.3f}  accuracy {g['accuracy']:.3f}  "
            f"n={g['n']}  per class: {per}"
        )
    lines.append("  per source:")
    for source, s in rep["by_source"].items():
        per = "  ".join(f"{k} {v:.3f}" for k, v in s["per_class_f1"].items())
        lines.append(
            f"    {source:<28} macro-F1 {s['macro_f1']:.3f}  accuracy {s['accuracy']:.3f}  "
            f"n={s['n']}  ({per})"
        )
    lines.append(
        f"  low-confidence threshold {rep['low_confidence_threshold']:.2f}: "
        f"{rep['low_confidence_rate']:.1%} marked low, accuracy when confident "
        f"{rep['accuracy_when_confident']:.3f}"
    )
    return "\n".join(lines)
