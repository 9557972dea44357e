"""Labelled examples: reading the JSONL pools, checking them, and the fixed held-out split.

The split is decided by a hash of the normalised text (script-folded, so the Traditional and
Simplified forms of one sentence always land together), never by position or randomness:
adding data never moves an old example between train and held-out, and the held-out part is
never shown to training.
"""

from __future__ import annotations

import hashlib
import json
import unicodedata
from collections.abc import Iterable
from pathlib import Path

from nlp.types import COMMENTER_TYPES, COMPLAINT_SUBTYPES, LANGUAGES
from nlp.zh_chars import to_simplified

DATA_DIR = Path(__file__).resolve().parent / "data"
SENTIMENTS = ("negative", "neutral", "positive")
HELDOUT_PERCENT = 15  # buckets [0, 15) of 100
DEV_PERCENT = 10  # buckets [15, 25): model selection and calibration


class DataError(ValueError):
    """A labelled line that cannot be used, with where it is."""


def normalise(text: str) -> str:
    """The form used for hashing and de-duplication: NFKC, case- and script-folded."""
    text = unicodedata.normalize("NFKC", text).lower()
    return " ".join(to_simplified(text).split())


def bucket(text: str) -> int:
    """0..99, stable across runs, machines and Python versions."""
    digest = hashlib.sha1(normalise(text).encode("utf-8")).digest()  # noqa: S324 - not security
    return int.from_bytes(digest[:4], "big") % 100


def split_of(text: str) -> str:
    b = bucket(text)
    if b < HELDOUT_PERCENT:
        return "test"
    if b < HELDOUT_PERCENT + DEV_PERCENT:
        return "dev"
    return "train"


def validate(row: dict, where: str = "") -> dict:
    """Check one labelled example and return it with optional fields filled in."""
    text = row.get("text")
    if not isinstance(text, str) or not text.strip():
        raise DataError(f"{where}: missing text")
    typ = row.get("type")
    if typ not in COMMENTER_TYPES:
        raise DataError(f"{where}: type {typ!r} is not one of {COMMENTER_TYPES}")
    sub = row.get("subtype")
    if sub is not None and sub not in COMPLAINT_SUBTYPES:
        raise DataError(f"{where}: subtype {sub!r} is not one of {COMPLAINT_SUBTYPES}")
    sent = row.get("sentiment")
    if sent is not None and sent not in SENTIMENTS:
        raise DataError(f"{where}: sentiment {sent!r} is not one of {SENTIMENTS}")
    lang = row.get("language")
    if lang is not None and lang not in LANGUAGES:
        raise DataError(f"{where}: language {lang!r} is not one of {LANGUAGES}")
    sug = row.get("suggestion")
    if sug is not None and not isinstance(sug, bool):
        raise DataError(f"{where}: suggestion must be true or false")
    out = dict(row)
    out.setdefault("subtype", None)
    if typ != "complaint":
        out["subtype"] = None
    return out


def read_jsonl(path: str | Path, strict: bool = True) -> list[dict]:
    """Labelled rows from one JSONL file; with strict=False bad lines are skipped."""
    rows = []
    path = Path(path)
    with path.open(encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                row = validate(json.loads(line), f"{path.name}:{n}")
            except (json.JSONDecodeError, DataError) as exc:
                if strict:
                    raise DataError(f"{path.name}:{n}: {exc}") from exc
                continue
            row["source"] = path.name
            rows.append(row)
    return rows


REAL_PREFIX = "real_"  # pools of real, human-written comments (the only test sources)


def data_dirs() -> list[Path]:
    """nlp/data, then the directories named in REPLYLINE_DATA_DIRS (os.pathsep-separated),
    where the real-comment pools live (they are rebuilt, not shipped: see SOURCES.md)."""
    from nlp.settings import NlpSettings

    return [DATA_DIR] + [d.expanduser() for d in NlpSettings.from_env().data_dirs]


def default_paths() -> list[Path]:
    """Every labelled pool: nlp/data's (seed.jsonl, comments_*.jsonl) and the extra dirs'."""
    return [p for d in data_dirs() for p in sorted(d.glob("*.jsonl"))]


def is_real(row: dict) -> bool:
    """True for rows from a pool of real comments (not written for this project)."""
    return str(row.get("source", "")).startswith(REAL_PREFIX)


def load_labelled(paths: Iterable[str | Path] | None = None, strict: bool = True) -> list[dict]:
    """All labelled rows, de-duplicated by normalised text (first occurrence wins)."""
    seen: set[str] = set()
    rows = []
    for path in paths if paths is not None else default_paths():
        for row in read_jsonl(path, strict=strict):
            key = normalise(row["text"])
            if key in seen:
                continue
            seen.add(key)
            rows.append(row)
    return rows


def split(rows: list[dict]) -> dict[str, list[dict]]:
    parts: dict[str, list[dict]] = {"train": [], "dev": [], "test": []}
    for row in rows:
        parts[split_of(row["text"])].append(row)
    return parts
