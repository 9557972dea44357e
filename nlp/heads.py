"""Small classifiers ("heads") that turn a sentence embedding into labels.

A head is a one-hidden-layer MLP (or a linear layer) with a softmax and a temperature. Heads are
stored as one `.npz` of weights plus a `.json` of metadata (labels, thresholds, held-out
metrics, the encoder they were trained for), both small enough to commit, and they run in
numpy: only the encoder needs torch.
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from nlp.settings import NlpSettings

PACKAGE_HEADS_DIR = Path(__file__).resolve().parent / "heads"
HEAD_NAMES = ("type", "subtype", "sentiment", "suggestion")


@dataclass
class Head:
    """One softmax classifier over an input vector."""

    name: str
    labels: list[str]
    weights: list[tuple[np.ndarray, np.ndarray]]  # [(W (in, out), b (out,)), ...], ReLU between
    temperature: float = 1.0

    def logits(self, x: np.ndarray) -> np.ndarray:
        h = np.asarray(x, dtype=np.float32)
        for i, (w, b) in enumerate(self.weights):
            h = h @ w + b
            if i < len(self.weights) - 1:
                h = np.maximum(h, 0.0)
        return h

    def predict_proba(self, x: np.ndarray) -> np.ndarray:
        z = self.logits(x) / max(self.temperature, 1e-3)
        z = z - z.max(axis=1, keepdims=True)
        e = np.exp(z)
        return (e / e.sum(axis=1, keepdims=True)).astype(np.float32)


@dataclass
class HeadSet:
    """All heads for one encoder, plus what the classifier needs to interpret them."""

    encoder: str
    dim: int
    heads: dict[str, Head]
    meta: dict = field(default_factory=dict)

    def save(self, path: str | Path) -> Path:
        """Write `<stem>.npz` and `<stem>.json` atomically; returns the npz path."""
        path = Path(path)
        if path.suffix != ".npz":
            path = path.with_suffix(".npz")
        path.parent.mkdir(parents=True, exist_ok=True)
        arrays: dict[str, np.ndarray] = {}
        heads_meta = {}
        for name, head in self.heads.items():
            for i, (w, b) in enumerate(head.weights):
                # float16 on disk halves the file; computation is float32
                arrays[f"{name}.w{i}"] = np.asarray(w, dtype=np.float16)
                arrays[f"{name}.b{i}"] = np.asarray(b, dtype=np.float32)
            heads_meta[name] = {
                "labels": list(head.labels),
                "layers": len(head.weights),
                "temperature": float(head.temperature),
            }
        meta = {"encoder": self.encoder, "dim": self.dim, "heads": heads_meta, **self.meta}
        # plain number arrays: nothing to pickle (naming the flag also keeps `**arrays` from
        # being matched against it)
        _atomic_write(path, lambda f: np.savez_compressed(f, allow_pickle=False, **arrays))
        _atomic_write(
            path.with_suffix(".json"),
            lambda f: f.write(
                (json.dumps(meta, indent=2, ensure_ascii=False, sort_keys=True) + "\n").encode()
            ),
        )
        return path

    @classmethod
    def load(cls, path: str | Path) -> HeadSet:
        path = Path(path)
        meta = json.loads(path.with_suffix(".json").read_text(encoding="utf-8"))
        heads = {}
        with np.load(path) as arrays:
            for name, info in meta["heads"].items():
                weights = [
                    (
                        arrays[f"{name}.w{i}"].astype(np.float32),
                        arrays[f"{name}.b{i}"].astype(np.float32),
                    )
                    for i in range(info["layers"])
                ]
                heads[name] = Head(name, list(info["labels"]), weights, info["temperature"])
        extra = {k: v for k, v in meta.items() if k not in ("encoder", "dim", "heads")}
        return cls(meta["encoder"], int(meta["dim"]), heads, extra)


def _atomic_write(path: Path, writer) -> None:
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            writer(f)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def heads_dir() -> Path:
    """Where trained heads are written: REPLYLINE_HEADS_DIR, else the package's nlp/heads."""
    configured = NlpSettings.from_env().heads_dir
    return configured.expanduser() if configured else PACKAGE_HEADS_DIR


def find_heads(encoder: str, directory: str | Path | None = None) -> Path | None:
    """The heads file for an encoder: the given dir, REPLYLINE_HEADS_DIR, then the package."""
    candidates = []
    if directory:
        candidates.append(Path(directory))
    configured = NlpSettings.from_env().heads_dir
    if configured:
        candidates.append(configured.expanduser())
    candidates.append(PACKAGE_HEADS_DIR)
    for d in candidates:
        p = d / f"{encoder}.npz"
        if p.is_file() and p.with_suffix(".json").is_file():
            return p
    return None
