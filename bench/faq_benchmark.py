"""FAQ answers only when right: precision and recall of automatic FAQ answers on real-style
questions the project did not tune on (bench/faq_paraphrases.jsonl: questions the FAQ answers,
and near misses it does not), with the real encoder and the playbooks' own routing (health and
safety questions go to a person).

The file was written before any tuning. Each question falls, by a hash of its text, in the
`tune` half or the `held-out` half; thresholds may only ever be chosen on `tune` (`--sweep`
prints the candidates), and the figures that count are the held-out ones printed last.

    python bench/faq_benchmark.py [--sweep]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE.parent))

from playbooks.engine import Playbooks  # noqa: E402
from playbooks.faq import encoder_embed  # noqa: E402
from playbooks.safety import mentions_safety  # noqa: E402


@dataclass
class Row:
    want: str | None
    text: str
    half: str
    top: str
    score: float
    lift: float
    margin: float  # how far the best entry stands above the second
    safety: bool


def half_of(text: str) -> str:
    return "held-out" if hashlib.sha256(text.encode()).digest()[0] % 2 else "tune"


def measure(rows: list[Row], answer_at: float, lift: float, margin: float) -> dict:
    answered = [r for r in rows if not r.safety and r.score >= answer_at and r.lift >= lift
                and r.margin >= margin]  # fmt: skip
    right = sum(r.top == r.want for r in answered)
    covered = sum(r.want is not None for r in rows)
    return {
        "answered": len(answered),
        "right": right,
        "precision": right / len(answered) if answered else 1.0,
        "recall": right / covered if covered else 0.0,
        "covered": covered,
        "wrong": [r for r in answered if r.top != r.want],
    }


def show(label: str, rows: list[Row], settings) -> None:
    m = measure(rows, settings.answer_at, settings.lift, settings.margin)
    print(
        f"{label}: {len(rows)} questions ({m['covered']} the FAQ answers, "
        f"{len(rows) - m['covered']} near misses); answered automatically {m['answered']}, "
        f"right {m['right']}: precision {m['precision']:.1%}, recall {m['recall']:.1%}"
    )
    for r in m["wrong"]:
        print(f"   wrong: {r.text!r} → {r.top} (want {r.want or 'a person'})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sweep", action="store_true", help="threshold candidates on tune")
    args = parser.parse_args()
    lines = (HERE / "faq_paraphrases.jsonl").read_text(encoding="utf-8").splitlines()
    queries = [json.loads(line) for line in lines if line.strip()]
    books = Playbooks.load(embed=encoder_embed())
    faq = books.faq
    rows = []
    for q in queries:
        top, second = faq.search(q["text"], limit=2)
        margin = top.score - second.score
        safety = mentions_safety(q["text"])
        row = Row(q["faq"], q["text"], half_of(q["text"]), top.entry.id, top.score, top.lift,
                  margin, safety)  # fmt: skip
        rows.append(row)
    if faq.failed:
        sys.exit(f"the encoder is not available: {faq.failed}")
    s = faq.settings
    print(f"thresholds (brand.yaml faq:): answer_at {s.answer_at}, lift {s.lift}, "
          f"margin {s.margin}")  # fmt: skip
    tune = [r for r in rows if r.half == "tune"]
    held = [r for r in rows if r.half == "held-out"]
    if args.sweep:
        found = []
        for a in [x / 1000 for x in range(800, 951, 5)]:
            for lift in [x / 1000 for x in range(0, 81, 4)]:
                for margin in [x / 1000 for x in range(0, 41, 4)]:
                    m = measure(tune, a, lift, margin)
                    if m["precision"] >= 0.95:
                        found.append((m["recall"], -a, -lift, -margin, a, lift, margin))
        for recall, *_, a, lift, margin in sorted(found, reverse=True)[:10]:
            print(f"tune: answer_at {a:.3f} lift {lift:.3f} margin {margin:.3f}: "
                  f"recall {recall:.1%}")  # fmt: skip
        for r in sorted(tune, key=lambda r: -r.score):
            ok = "ok" if r.top == r.want else "--"
            print(
                f"  {ok} {r.score:.3f} lift {r.lift:.3f} margin {r.margin:.3f} "
                f"{'safety ' if r.safety else ''}{r.top:18} want {r.want or '-':18} {r.text}"
            )
    show("tune", tune, s)
    show("held-out", held, s)


if __name__ == "__main__":
    main()
