"""Training the heads on the labelled pools (and, optionally, review-queue corrections).

Recipe, chosen for generalising to real comments rather than fitting the pools:
- the held-out split (by text hash) is never seen; on the rest, 4-fold cross-validation
  gives out-of-fold predictions that set the softmax temperature and the thresholds, and the
  final heads are fit on all of it;
- every Chinese example is also shown in the other script (character-level OpenCC
  conversion), so zh-Hans, the smallest pool, borrows the zh-Hant examples;
- class weights balance the classes, weight decay + dropout + light embedding noise keep the
  heads smooth;
- embeddings are cached per encoder on disk, so retraining is seconds, not minutes.
"""

from __future__ import annotations

import hashlib
import os
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from nlp import dataset, loso, metrics
from nlp.context import with_context
from nlp.features import cheap_features
from nlp.heads import Head, HeadSet, heads_dir
from nlp.language import detect_language
from nlp.types import COMMENTER_TYPES, COMPLAINT_SUBTYPES
from nlp.zh_chars import to_simplified, to_traditional

SUGGESTION_LABELS = ("no", "yes")
HEAD_LABELS: dict[str, tuple[str, ...]] = {
    "type": COMMENTER_TYPES,
    "subtype": COMPLAINT_SUBTYPES,
    "sentiment": dataset.SENTIMENTS,
    "suggestion": SUGGESTION_LABELS,
}
DEFAULTS: dict[str, Any] = {
    "hidden": 128,
    "dropout": 0.3,
    "lr": 3e-3,
    "weight_decay": 1e-2,
    "epochs": 30,
    "folds": 4,
    "batch_size": 256,
    "noise": 0.02,
    "label_smoothing": 0.05,
    "augment_scripts": True,
    "features": [],
    "layers": None,  # None: the encoder's default_layers()
    "seed": 13,
    "loso": True,  # leave-one-source-out validation over the real pools
    "correction_weight": 5,  # a reviewer's correction counts as this many examples
}


# ----------------------------------------------------------------------------- embeddings


def cache_dir() -> Path:
    from nlp.settings import NlpSettings

    configured = NlpSettings.from_env().cache_dir
    if configured:
        return configured.expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "replyline" / "embeddings"


def _key(text: str) -> str:
    return hashlib.sha1(text.encode("utf-8")).hexdigest()  # noqa: S324 - cache key only


def embed_cached(
    encoder: Any,
    texts: Sequence[str],
    progress: Callable[[int], None] | None = None,
    layers: Sequence[int] | None = None,
) -> np.ndarray:
    """Embeddings for `texts`, reusing an on-disk cache keyed by encoder (and what runs it),
    layers and text."""
    layer_tag = "-".join(str(v) for v in layers) if layers else "last"
    tag = (
        f"{encoder.name}-{getattr(encoder, 'max_tokens', 0)}-"
        f"{getattr(encoder, 'runtime', 'torch')}-{getattr(encoder, 'quantize', None)}-{layer_tag}"
    )
    path = cache_dir() / f"{tag}.npz"
    cached: dict[str, np.ndarray] = {}
    if path.is_file():
        try:
            with np.load(path) as z:
                cached = dict(zip(z["keys"].tolist(), z["vectors"], strict=True))
        except (OSError, ValueError, KeyError):
            cached = {}
    keys = [_key(t) for t in texts]
    missing = sorted({k: t for k, t in zip(keys, texts, strict=True) if k not in cached}.items())
    if missing:
        vecs = encoder.embed([t for _, t in missing], progress=progress, layers=layers)
        for (k, _), v in zip(missing, vecs, strict=True):
            cached[k] = v
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.npz")
        np.savez(tmp, keys=np.array(list(cached)), vectors=np.stack(list(cached.values())))
        os.replace(tmp, path)
    elif progress is not None:
        progress(0)
    return np.stack([cached[k] for k in keys]).astype(np.float32)


# ----------------------------------------------------------------------------- data


def augment_scripts(rows: Iterable[dict]) -> list[dict]:
    """Each Chinese row plus its copy in the other script (when the conversion changes it)."""
    out = []
    for row in rows:
        out.append(row)
        lang = row.get("language") or detect_language(row["text"])
        if lang not in ("zh-Hant", "zh-Hans"):
            continue
        conv = to_simplified(row["text"]) if lang == "zh-Hant" else to_traditional(row["text"])
        if conv != row["text"]:
            other = "zh-Hans" if lang == "zh-Hant" else "zh-Hant"
            out.append({**row, "text": conv, "language": other, "augmented": True})
    return out


def read_with_context(row: dict) -> dict:
    """The row as the classifier reads it: a follow-up with a `context` joined to it."""
    if not row.get("context"):
        return row
    return {**row, "text": with_context(row["text"], row["context"])}


def targets(rows: Sequence[dict], head: str) -> tuple[np.ndarray, np.ndarray]:
    """(row indices, label ids) of the rows that carry a label for `head`."""
    labels = HEAD_LABELS[head]
    idx, ys = [], []
    for i, row in enumerate(rows):
        if head == "type":
            value = row.get("type")
        elif head == "subtype":
            value = row.get("subtype") if row.get("type") in (None, "complaint") else None
        elif head == "sentiment":
            value = row.get("sentiment")
        else:
            sug = row.get("suggestion")
            value = None if sug is None else ("yes" if sug else "no")
        if value in labels:
            idx.append(i)
            ys.append(labels.index(value))
    return np.array(idx, dtype=np.int64), np.array(ys, dtype=np.int64)


def inputs(vectors: np.ndarray, texts: Sequence[str], features: Sequence[str]) -> np.ndarray:
    if not features:
        return vectors
    return np.concatenate([vectors, cheap_features(texts, features)], axis=1)


# ----------------------------------------------------------------------------- fitting


def _class_weights(y: np.ndarray, n_classes: int) -> np.ndarray:
    counts = np.bincount(y, minlength=n_classes).astype(np.float64)
    w = np.where(counts > 0, counts.sum() / (n_classes * np.maximum(counts, 1)), 0.0)
    return np.sqrt(w)  # softened: full inverse frequency over-predicts the rare classes


def fit_head(
    name: str,
    x: np.ndarray,
    y: np.ndarray,
    n_classes: int,
    hp: dict[str, Any],
    tick: Callable[[], None] | None = None,
) -> Head:
    """Train one head: AdamW, cosine schedule over `hp["epochs"]`, class weights, label
    smoothing, dropout and a little Gaussian noise on the inputs."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # tiny matmuls: one thread is as fast and leaves a core free
    try:
        return _fit_head(name, x, y, n_classes, hp, tick)
    finally:
        torch.set_num_threads(threads)


def _fit_head(name, x, y, n_classes, hp, tick):
    import torch

    torch.manual_seed(hp["seed"])
    rng = np.random.default_rng(hp["seed"])
    d = x.shape[1]
    if hp["hidden"]:
        model = torch.nn.Sequential(
            torch.nn.Dropout(hp["dropout"] / 3),
            torch.nn.Linear(d, hp["hidden"]),
            torch.nn.ReLU(),
            torch.nn.Dropout(hp["dropout"]),
            torch.nn.Linear(hp["hidden"], n_classes),
        )
    else:
        model = torch.nn.Sequential(
            torch.nn.Dropout(hp["dropout"] / 3), torch.nn.Linear(d, n_classes)
        )
    weights = torch.tensor(_class_weights(y, n_classes), dtype=torch.float32)
    loss_fn = torch.nn.CrossEntropyLoss(weight=weights, label_smoothing=hp["label_smoothing"])
    opt = torch.optim.AdamW(model.parameters(), lr=hp["lr"], weight_decay=hp["weight_decay"])
    epochs = int(hp["epochs"])
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=max(epochs, 1))
    xt = torch.tensor(x, dtype=torch.float32)
    yt = torch.tensor(y, dtype=torch.long)
    for _epoch in range(epochs):
        model.train()
        perm = rng.permutation(len(y))
        for start in range(0, len(perm), hp["batch_size"]):
            b = perm[start : start + hp["batch_size"]]
            xb = xt[b]
            if hp["noise"]:
                xb = xb + hp["noise"] * torch.randn_like(xb)
            loss = loss_fn(model(xb), yt[b])
            opt.zero_grad()
            loss.backward()
            opt.step()
        sched.step()
        if tick is not None:
            tick()
    model.eval()
    linears = [m for m in model if isinstance(m, torch.nn.Linear)]
    ws = [(m.weight.detach().numpy().T.copy(), m.bias.detach().numpy().copy()) for m in linears]
    return Head(name, list(HEAD_LABELS[name]), ws)


def fit_temperature(logits: np.ndarray, y: np.ndarray) -> float:
    """The softmax temperature that minimises the negative log-likelihood of (logits, y)."""
    if not len(y):
        return 1.0
    z = logits.astype(np.float64)
    best, best_nll = 1.0, float("inf")
    for t in np.arange(0.5, 4.01, 0.05):
        sc = z / t
        sc = sc - sc.max(axis=1, keepdims=True)
        logp = sc - np.log(np.exp(sc).sum(axis=1, keepdims=True))
        nll = -logp[np.arange(len(y)), y].mean()
        if nll < best_nll:
            best, best_nll = float(t), nll
    return round(best, 2)


def _softmax(z: np.ndarray) -> np.ndarray:
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def pick_low_confidence(conf: np.ndarray, correct: np.ndarray, target: float = 0.92) -> float:
    """Smallest threshold whose confident part of dev reaches `target` accuracy."""
    for t in np.arange(0.40, 0.801, 0.05):
        keep = conf >= t
        if keep.sum() and correct[keep].mean() >= target:
            return round(float(max(t, 0.45)), 2)
    return 0.8


def pick_binary_threshold(p_yes: np.ndarray, y: np.ndarray) -> float:
    best, best_f1 = 0.5, -1.0
    for t in np.arange(0.2, 0.801, 0.05):
        pred = p_yes >= t
        tp = float((pred & (y == 1)).sum())
        fp = float((pred & (y == 0)).sum())
        fn = float((~pred & (y == 1)).sum())
        f1 = 2 * tp / (2 * tp + fp + fn) if tp else 0.0
        if f1 > best_f1 + 1e-9:
            best, best_f1 = float(t), f1
    return round(best, 2)


# ----------------------------------------------------------------------------- evaluation


def evaluate_heads(heads: HeadSet, x: np.ndarray, rows: Sequence[dict]) -> dict:
    """Held-out style metrics for every head on already-embedded rows."""
    out: dict[str, Any] = {}
    langs = [r.get("language") or detect_language(r["text"]) for r in rows]
    for name, head in heads.heads.items():
        idx, y = targets(rows, name)
        if not len(idx):
            continue
        labels = list(HEAD_LABELS[name])
        probs = head.predict_proba(x[idx])
        if name == "suggestion":
            thr = heads.meta.get("thresholds", {}).get("suggestion", 0.5)
            pred_ids = (probs[:, 1] >= thr).astype(int)
        else:
            pred_ids = probs.argmax(1)
        gold = [labels[i] for i in y]
        pred = [labels[i] for i in pred_ids]
        rep = metrics.report(gold, pred, labels, [langs[i] for i in idx])
        if name == "type":
            conf = probs.max(1)
            thr = heads.meta.get("thresholds", {}).get("low_confidence", 0.5)
            low = conf < thr
            rep["low_confidence_rate"] = float(low.mean())
            correct = pred_ids == y
            rep["accuracy_when_confident"] = float(correct[~low].mean()) if (~low).any() else 0.0
        out[name] = rep
    return out


# ----------------------------------------------------------------------------- main entry


def _file_digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()[:16]


def apply_feedback(rows: list[dict], feedback: Sequence[dict]) -> list[dict]:
    """Fold corrections in: a correction overrides that label of a pool row with the same
    text, otherwise it becomes a new (partially labelled) row."""
    by_text = {dataset.normalise(r["text"]): r for r in rows}
    out = list(rows)
    for fb in feedback:
        key = dataset.normalise(fb["text"])
        row = by_text.get(key)
        if row is None:
            row = {"text": fb["text"], "source": "feedback"}
            by_text[key] = row
            out.append(row)
        row[fb["field"]] = fb["value"]
        row["corrected"] = True
        if fb["field"] == "type" and fb["value"] != "complaint":
            row["subtype"] = None
    return out


def training_split(rows: list[dict]) -> dict[str, list[dict]]:
    """`dataset.split`, except that a reviewer's correction is never held out: it is there to
    be learned."""
    parts = dataset.split(rows)
    parts["train"] += [r for r in parts["test"] if r.get("corrected")]
    parts["test"] = [r for r in parts["test"] if not r.get("corrected")]
    return parts


def weighted(rows: list[dict], hp: dict[str, Any]) -> list[dict]:
    """The rows a head fits on, each corrected row repeated `correction_weight` times: one
    reviewer's correction among thousands of pool rows would otherwise barely move the head."""
    times = max(1, int(hp["correction_weight"]))
    return [r for r in rows for _ in range(times if r.get("corrected") else 1)]


def train(
    paths: Sequence[str | Path] | None = None,
    feedback: Sequence[dict] | None = None,
    encoder: Any = None,
    output: str | Path | None = None,
    hp: dict[str, Any] | None = None,
    progress: bool = True,
    log: Callable[[str], None] | None = None,
) -> tuple[HeadSet, dict]:
    """Train all heads; returns the heads (already saved unless output is False) and metrics.

    `output`: a `.npz` path, a directory (heads are saved as `<encoder>.npz` in it), None for
    the default heads directory, or False to not save.
    """
    from tqdm import tqdm

    from nlp.encoder import get_encoder

    hp = {**DEFAULTS, **(hp or {})}
    say = log or (lambda msg: print(msg, file=sys.stderr))
    enc = encoder or get_encoder()
    layers = list(hp["layers"] or enc.default_layers())
    file_paths = [Path(p) for p in (paths if paths is not None else dataset.default_paths())]
    rows = [read_with_context(r) for r in dataset.load_labelled(file_paths, strict=False)]
    if feedback:
        rows = apply_feedback(rows, feedback)
    parts = training_split(rows)
    pool = parts["train"] + parts["dev"]  # everything but the held-out part
    say(
        f"labelled rows: {len(rows)} (training pool {len(pool)}, "
        f"held-out {len(parts['test'])}, never used in training)"
    )
    if len(pool) < 10:
        raise ValueError("too few training rows to train heads")
    aug = augment_scripts if hp["augment_scripts"] else list
    folds = int(hp["folds"])
    fold_of = np.array([dataset.bucket(r["text"]) % folds for r in pool])
    fold_rows = [
        aug(weighted([r for r, f in zip(pool, fold_of, strict=True) if f != k], hp))
        for k in range(folds)
    ]
    fit_rows = aug(weighted(pool, hp))
    # (the held-out rows in both scripts too: leave-one-source-out trains on other sources' rows)
    all_texts = sorted({r["text"] for r in fit_rows + aug(parts["test"])})
    bar = tqdm(
        total=len(all_texts),
        desc="embedding",
        unit="msg",
        disable=not progress,
        file=sys.stderr,
        mininterval=1.0,
    )
    vec = embed_cached(enc, all_texts, progress=bar.update, layers=layers)
    bar.close()
    lookup = {t: i for i, t in enumerate(all_texts)}

    def matrix(rs: Sequence[dict]) -> np.ndarray:
        texts = [r["text"] for r in rs]
        return inputs(vec[[lookup[t] for t in texts]], texts, hp["features"])

    x_pool, x_fit, x_test = matrix(pool), matrix(fit_rows), matrix(parts["test"])
    heads: dict[str, Head] = {}
    thresholds: dict[str, float] = {}
    cv: dict[str, dict] = {}
    bar = tqdm(
        total=len(HEAD_LABELS) * (folds + 1) * int(hp["epochs"]),
        desc="training heads",
        unit="epoch",
        disable=not progress,
        file=sys.stderr,
        mininterval=1.0,
    )
    for name, labels in HEAD_LABELS.items():
        pi, py = targets(pool, name)
        if len(set(py.tolist())) < 2:
            say(f"head {name}: not enough labelled classes, skipped")
            bar.update((folds + 1) * int(hp["epochs"]))
            continue
        # out-of-fold logits: every pool row is predicted by a head that never saw it
        oof = np.zeros((len(pi), len(labels)), dtype=np.float32)
        for k in range(folds):
            ti, ty = targets(fold_rows[k], name)
            held = fold_of[pi] == k
            if len(set(ty.tolist())) < 2 or not held.any():
                bar.update(int(hp["epochs"]))
                continue
            xk = matrix(fold_rows[k])
            probe = fit_head(name, xk[ti], ty, len(labels), hp, tick=bar.update)
            oof[held] = probe.logits(x_pool[pi[held]])
        temperature = fit_temperature(oof, py)
        p = _softmax(oof / temperature)
        if name == "type":
            thresholds["low_confidence"] = pick_low_confidence(p.max(1), p.argmax(1) == py)
        if name == "suggestion":
            thresholds["suggestion"] = pick_binary_threshold(p[:, 1], py)
            pred = (p[:, 1] >= thresholds["suggestion"]).astype(int)
        else:
            pred = p.argmax(1)
        langs = [pool[i].get("language") or detect_language(pool[i]["text"]) for i in pi]
        rep = metrics.report([labels[i] for i in py], [labels[i] for i in pred], labels, langs)
        cv[name] = {
            "macro_f1": round(rep["macro_f1"], 4),
            "by_language": {k: round(v["macro_f1"], 4) for k, v in rep["by_group"].items()},
        }
        fi, fy = targets(fit_rows, name)
        final = fit_head(name, x_fit[fi], fy, len(labels), hp, tick=bar.update)
        final.temperature = temperature
        heads[name] = final
    bar.close()
    loso_report = None
    if hp["loso"] and "type" in heads:
        say("leave-one-source-out validation over the real pools...")
        loso_report = loso.run(
            rows,
            matrix,
            lambda x, y: fit_head("type", x, y, len(COMMENTER_TYPES), hp),
            aug,
            fit_temperature,
        )
        if loso_report is not None:
            # calibrated on kinds of text the head never saw, which is what real use is
            heads["type"].temperature = loso_report["temperature"]
            thresholds["low_confidence"] = loso_report["low_confidence_threshold"]
            say(loso.format_report(loso_report))
    thresholds.setdefault("low_confidence", 0.5)
    thresholds.setdefault("suggestion", 0.5)
    meta = {
        "format": 1,
        "trained_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "prefix": "query: ",
        "max_tokens": getattr(enc, "max_tokens", None),
        "features": list(hp["features"]),
        "layers": layers,
        "thresholds": thresholds,
        "cv_out_of_fold": cv,
        "hyperparameters": {k: v for k, v in hp.items() if k not in ("features", "layers")},
        "data": {
            p.name: {"sha256_16": _file_digest(p), "rows": sum(1 for _ in p.open(encoding="utf-8"))}
            for p in file_paths
        },
        "feedback_rows": len(feedback or []),
        "corrections_trained": sum(1 for r in pool if r.get("corrected")),
        "leave_one_source_out": loso_report,
        "split": {k: len(v) for k, v in parts.items()},
        "label_counts": dict(Counter(r.get("type") for r in rows if r.get("type"))),
    }
    headset = HeadSet(enc.name, int(x_fit.shape[1]), heads, meta)
    held_out = evaluate_heads(headset, x_test, parts["test"]) if parts["test"] else {}
    headset.meta["heldout"] = _compact(held_out)
    if output is not False:
        if output is None:
            target = heads_dir() / f"{enc.name}.npz"
        else:
            target = Path(output)
            if target.suffix != ".npz":
                target = target / f"{enc.name}.npz"
        headset.save(target)
        say(f"heads written to {target}")
    return headset, held_out


def _compact(report: dict) -> dict:
    """The parts of a metrics report worth keeping in the heads' metadata."""
    out = {}
    for name, rep in report.items():
        out[name] = {
            "n": rep["n"],
            "macro_f1": round(rep["macro_f1"], 4),
            "accuracy": round(rep["accuracy"], 4),
            "by_language": {
                k: {"n": v["n"], "macro_f1": round(v["macro_f1"], 4)}
                for k, v in rep.get("by_group", {}).items()
            },
        }
        for extra in ("low_confidence_rate", "accuracy_when_confident"):
            if extra in rep:
                out[name][extra] = round(rep[extra], 4)
    return out


def format_heldout(report: dict) -> str:
    lines = []
    for name, rep in report.items():
        by = ", ".join(
            f"{k} {v['macro_f1']:.3f} (n={v['n']})" for k, v in rep.get("by_group", {}).items()
        )
        lines.append(
            f"{name:<11} macro-F1 {rep['macro_f1']:.3f}  accuracy {rep['accuracy']:.3f}  "
            f"n={rep['n']}  by language: {by}"
        )
    if "type" in report:
        t = report["type"]
        lines.append("")
        lines.append("type, per class (held-out):")
        lines.append(metrics.format_per_class(t["per_class"]))
        lines.append("")
        lines.append(metrics.format_confusion(t["confusion"], t["labels"]))
        if "low_confidence_rate" in t:
            lines.append(
                f"\nlow-confidence rate {t['low_confidence_rate']:.3f}; accuracy when confident "
                f"{t['accuracy_when_confident']:.3f}"
            )
    return "\n".join(lines)


def validate_by_source(
    paths: Sequence[str | Path] | None = None,
    encoder: Any = None,
    hp: dict[str, Any] | None = None,
    progress: bool = True,
) -> dict | None:
    """Leave-one-source-out figures for the type head on the pools (training's recipe and
    cached embeddings); None when no real pool is present."""
    from tqdm import tqdm

    from nlp.encoder import get_encoder

    hp = {**DEFAULTS, **(hp or {})}
    enc = encoder or get_encoder()
    layers = list(hp["layers"] or enc.default_layers())
    file_paths = [Path(p) for p in (paths if paths is not None else dataset.default_paths())]
    rows = [read_with_context(r) for r in dataset.load_labelled(file_paths, strict=False)]
    aug = augment_scripts if hp["augment_scripts"] else list
    texts = sorted({r["text"] for r in aug(rows)})
    bar = tqdm(total=len(texts), desc="embedding", disable=not progress, file=sys.stderr)
    vec = embed_cached(enc, texts, progress=bar.update, layers=layers)
    bar.close()
    lookup = {t: i for i, t in enumerate(texts)}

    def matrix(rs: Sequence[dict]) -> np.ndarray:
        ts = [r["text"] for r in rs]
        return inputs(vec[[lookup[t] for t in ts]], ts, hp["features"])

    return loso.run(
        rows,
        matrix,
        lambda x, y: fit_head("type", x, y, len(COMMENTER_TYPES), hp),
        aug,
        fit_temperature,
    )
