"""Precision, recall, F1 and confusion matrices, written out so `eval` and `train` report the
same numbers the same way (no scikit-learn dependency)."""

from __future__ import annotations

from collections.abc import Sequence


def per_class(
    gold: Sequence[str], pred: Sequence[str], labels: Sequence[str]
) -> dict[str, dict[str, float]]:
    """{label: {precision, recall, f1, support}} for every label."""
    out = {}
    for lab in labels:
        tp = sum(g == lab and p == lab for g, p in zip(gold, pred, strict=True))
        fp = sum(g != lab and p == lab for g, p in zip(gold, pred, strict=True))
        fn = sum(g == lab and p != lab for g, p in zip(gold, pred, strict=True))
        prec = tp / (tp + fp) if tp + fp else 0.0
        rec = tp / (tp + fn) if tp + fn else 0.0
        f1 = 2 * prec * rec / (prec + rec) if prec + rec else 0.0
        out[lab] = {"precision": prec, "recall": rec, "f1": f1, "support": tp + fn}
    return out


def macro_f1(gold: Sequence[str], pred: Sequence[str], labels: Sequence[str]) -> float:
    """Mean F1 over the labels that occur in `gold` (absent classes would only add zeros)."""
    stats = per_class(gold, pred, labels)
    present = [lab for lab in labels if stats[lab]["support"]]
    return sum(stats[lab]["f1"] for lab in present) / len(present) if present else 0.0


def accuracy(gold: Sequence[str], pred: Sequence[str]) -> float:
    return sum(g == p for g, p in zip(gold, pred, strict=True)) / len(gold) if gold else 0.0


def confusion(gold: Sequence[str], pred: Sequence[str], labels: Sequence[str]) -> list[list[int]]:
    """Rows are gold labels, columns predictions, both in `labels` order."""
    index = {lab: i for i, lab in enumerate(labels)}
    m = [[0] * len(labels) for _ in labels]
    for g, p in zip(gold, pred, strict=True):
        if g in index and p in index:
            m[index[g]][index[p]] += 1
    return m


def format_confusion(matrix: list[list[int]], labels: Sequence[str]) -> str:
    width = max(7, *(len(lab) for lab in labels)) + 1
    lines = ["gold \\ pred".ljust(width + 3) + "".join(lab.rjust(width) for lab in labels)]
    for lab, row in zip(labels, matrix, strict=True):
        lines.append(lab.ljust(width + 3) + "".join(str(v).rjust(width) for v in row))
    return "\n".join(lines)


def format_per_class(stats: dict[str, dict[str, float]]) -> str:
    lines = [f"{'class':<12}{'precision':>10}{'recall':>10}{'f1':>10}{'support':>9}"]
    for lab, s in stats.items():
        lines.append(
            f"{lab:<12}{s['precision']:>10.3f}{s['recall']:>10.3f}{s['f1']:>10.3f}"
            f"{int(s['support']):>9d}"
        )
    return "\n".join(lines)


def report(
    gold: Sequence[str],
    pred: Sequence[str],
    labels: Sequence[str],
    groups: Sequence[str] | None = None,
) -> dict:
    """Everything eval prints: per-class stats, macro-F1 overall and per group, confusion."""
    out: dict = {
        "n": len(gold),
        "accuracy": accuracy(gold, pred),
        "macro_f1": macro_f1(gold, pred, labels),
        "per_class": per_class(gold, pred, labels),
        "confusion": confusion(gold, pred, labels),
        "labels": list(labels),
    }
    if groups is not None:
        by: dict[str, dict] = {}
        for grp in sorted(set(groups)):
            idx = [i for i, g in enumerate(groups) if g == grp]
            gg = [gold[i] for i in idx]
            pp = [pred[i] for i in idx]
            by[grp] = {
                "n": len(idx),
                "macro_f1": macro_f1(gg, pp, labels),
                "accuracy": accuracy(gg, pp),
            }
        out["by_group"] = by
    return out
