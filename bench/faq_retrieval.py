"""FAQ retrieval on a labelled set of paraphrased questions (bench/faq_queries.jsonl) with the
real encoder: top-1 accuracy, and how often a confident answer is right or wrongly given."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE.parent))

from playbooks.engine import Playbooks  # noqa: E402
from playbooks.faq import encoder_embed  # noqa: E402


def main() -> None:
    queries = [json.loads(line) for line in (HERE / "faq_queries.jsonl").open(encoding="utf-8")]
    started = time.perf_counter()
    faq = Playbooks.load(embed=encoder_embed()).faq
    faq.search("warm up")
    if faq.failed:
        sys.exit(f"the encoder is not available: {faq.failed}")
    print(
        f"index of {len(faq)} entries built (with encoder load) in "
        f"{time.perf_counter() - started:.1f}s"
    )
    started = time.perf_counter()
    rows = [(q["faq"], faq.search(q["text"], limit=1)[0], q["text"]) for q in queries]
    per_query = (time.perf_counter() - started) / len(rows) * 1000
    positives = [r for r in rows if r[0]]
    negatives = [r for r in rows if not r[0]]
    top1 = sum(m.entry.id == want for want, m, _ in positives)
    answered_right = sum(m.confident and m.entry.id == want for want, m, _ in positives)
    answered_wrong = sum(m.confident and m.entry.id != want for want, m, _ in positives)
    false_answers = sum(m.confident for _, m, _ in negatives)
    print(
        f"queries: {len(positives)} covered by the FAQ, {len(negatives)} not; "
        f"{per_query:.0f} ms each"
    )
    print(
        f"top-1 accuracy on covered questions: {top1}/{len(positives)} "
        f"= {top1 / len(positives):.0%}"
    )
    print(f"answered from the FAQ and right: {answered_right}/{len(positives)}")
    print(f"answered from the FAQ but wrong entry: {answered_wrong}")
    print(f"uncovered questions answered anyway: {false_answers}/{len(negatives)}")
    for want, m, text in rows:
        verdict = "answer" if m.confident else "human"
        ok = (m.confident and m.entry.id == want) or (
            not m.confident and (want is None or m.entry.id != want)
        )
        flag = "  " if ok else "!!"
        print(
            f"{flag} {verdict:6} {m.score:.3f} lift {m.lift:.3f} {m.entry.id:18} "
            f"want {want or '-':18} {text}"
        )


if __name__ == "__main__":
    main()
