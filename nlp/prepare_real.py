"""Build the real-comment pools (`real_*.jsonl`) from public data sets fetched elsewhere.

The pools are not stored in this repository: run this with the source repositories'
checkouts (git directories or work trees) to rebuild them, then point training at the output
with `REPLYLINE_DATA_DIRS`. Sources, licences and label mappings: nlp/data/SOURCES.md. Only
data files are read; sampling is seeded, so the same inputs give the same pools.

    python -m nlp.prepare_real --davidson DIR --banking77 DIR --crosswoz DIR --kdconv DIR \
        --chatterbot DIR --amazon-sentences DIR --yelp-sentences DIR --out /path/to/pools
"""

from __future__ import annotations

import argparse
import csv
import html
import io
import json
import random
import re
import shutil
import subprocess
import zipfile
from pathlib import Path

MAX_CHARS = 160
SEED = 14

# banking77 intents whose statements report a problem the customer wants fixed
BANKING_PROBLEMS = set(
    [
        "card_arrival",
        "card_not_working",
        "declined_card_payment",
        "declined_transfer",
        "declined_cash_withdrawal",
        "extra_charge_on_statement",
        "wrong_amount_of_cash_received",
        "cash_withdrawal_not_recognised",
        "card_payment_not_recognised",
        "transfer_not_received_by_recipient",
        "pending_card_payment",
        "pending_transfer",
        "failed_transfer",
        "card_swallowed",
        "lost_or_stolen_card",
        "compromised_card",
        "balance_not_updated_after_bank_transfer",
        "balance_not_updated_after_cheque_or_cash_deposit",
        "wrong_exchange_rate_for_cash_withdrawal",
        "card_payment_wrong_exchange_rate",
        "direct_debit_payment_not_recognised",
        "pin_blocked",
        "transaction_charged_twice",
        "refund_not_showing_up",
        "request_refund",
        "contactless_not_working",
        "passcode_forgotten",
        "cash_withdrawal_charge",
        "card_payment_fee_charged",
        "transfer_fee_charged",
    ]
)


def read(repo: Path, path: str) -> bytes:
    """A file from a work tree, or from a bare git directory's HEAD."""
    if (repo / path).is_file():
        return (repo / path).read_bytes()
    git = shutil.which("git") or "git"
    return subprocess.run(  # noqa: S603 - fixed arguments, no shell
        [git, "--git-dir", str(repo), "show", f"HEAD:{path}"], check=True, capture_output=True
    ).stdout


def row(text, typ, lang, source, sentiment=None, context=None, subtype=None):
    out = {"text": text, "type": typ, "subtype": subtype, "sentiment": sentiment}
    out.update({"language": lang, "suggestion": None, "source_set": source})
    if context:
        out["context"] = context
    return out


def _clean(text: str) -> str:
    text = html.unescape(text).replace("\n", " ")
    return re.sub(r"\s+", " ", text).strip()


def davidson(repo: Path, rng: random.Random, n: int) -> list[dict]:
    """Tweets: offensive or hateful by majority -> troll; neither, by every coder -> other."""
    data = csv.DictReader(io.StringIO(read(repo, "data/labeled_data.csv").decode("utf-8")))
    trolls, others = [], []
    for r in data:
        text = _clean(r["tweet"])
        text = re.sub(r"^(!+\s*)?RT @\w+:?\s*", "", text).strip()
        if not (8 <= len(text) <= MAX_CHARS) or "http" in text:
            continue
        if r["class"] in ("0", "1") and int(r["neither"]) == 0:
            trolls.append(row(text, "troll", "en", "davidson", "negative"))
        elif r["class"] == "2" and int(r["neither"]) == int(r["count"]):
            others.append(row(text, "other", "en", "davidson"))
    return rng.sample(trolls, min(n, len(trolls))) + rng.sample(others, min(n, len(others)))


def banking77(repo: Path, rng: random.Random, n: int) -> list[dict]:
    """Bank customers' messages: with a question mark -> question; statements of a problem
    intent -> complaint (unhappy); other statements are left out."""
    data = csv.DictReader(io.StringIO(read(repo, "banking_data/test.csv").decode("utf-8")))
    questions, complaints = [], []
    for r in data:
        text = _clean(r["text"])
        if len(text) > MAX_CHARS:
            continue
        if "?" in text:
            questions.append(row(text, "question", "en", "banking77", "neutral"))
        elif r["category"] in BANKING_PROBLEMS:
            complaints.append(
                row(text, "complaint", "en", "banking77", "negative", subtype="unhappy")
            )
    return rng.sample(questions, min(n, len(questions))) + rng.sample(
        complaints, min(n, len(complaints))
    )


def chatterbot_en(repo: Path, rng: random.Random, n: int) -> list[dict]:
    """Opening lines of English small-talk conversations -> other."""
    import yaml

    out = []
    for name in ("greetings", "conversations", "emotion", "food", "sports", "movies"):
        doc = yaml.safe_load(read(repo, f"chatterbot_corpus/data/english/{name}.yml"))
        for conv in doc.get("conversations", []):
            text = _clean(str(conv[0]))
            if 2 <= len(text) <= MAX_CHARS and "?" not in text:
                out.append(row(text, "other", "en", "chatterbot"))
    return rng.sample(out, min(n, len(out)))


def crosswoz(repo: Path, rng: random.Random, n: int) -> list[dict]:
    """Travellers' turns in Beijing trip-planning chats (zh-Hans): a turn that requests
    information -> question (with the previous two turns as context); a turn that only thanks
    or says goodbye -> other."""
    raw = read(repo, "data/crosswoz/val.json.zip")
    with zipfile.ZipFile(io.BytesIO(raw)) as z:
        dialogues = json.loads(z.read(z.namelist()[0]))
    questions, others = [], []
    for dialogue in dialogues.values():
        msgs = dialogue["messages"]
        for i, m in enumerate(msgs):
            if m["role"] != "usr" or len(m["content"]) > MAX_CHARS:
                continue
            acts = {a[0] for a in m.get("dialog_act", [])}
            context = [x["content"] for x in msgs[max(0, i - 2) : i]]
            if "Request" in acts:
                q = row(m["content"], "question", "zh-Hans", "crosswoz", "neutral", context)
                questions.append(q)
            elif acts and acts <= {"General"} and i > 0:
                others.append(row(m["content"], "other", "zh-Hans", "crosswoz", None, context))
    return rng.sample(questions, min(n, len(questions))) + rng.sample(others, min(n, len(others)))


def kdconv(repo: Path, rng: random.Random, n: int) -> list[dict]:
    """Chit-chat about films, music and travel (zh-Hans): statements -> other."""
    out = []
    for domain in ("film", "music", "travel"):
        for conv in json.loads(read(repo, f"data/{domain}/dev.json")):
            for m in conv["messages"]:
                text = _clean(m["message"])
                if 4 <= len(text) <= MAX_CHARS and not re.search(r"[?？吗呢]", text):
                    out.append(row(text, "other", "zh-Hans", "kdconv"))
    return rng.sample(out, min(n, len(out)))


def _kotzias(repo: Path, rng: random.Random, n: int, site: str, source: str) -> list[dict]:
    """Review sentences picked as clearly positive or negative (Kotzias et al., 2015):
    positive -> advocate, negative -> complaint (unhappy). Lines that are not English (some
    copies carry additions) are left out."""
    from nlp.language import detect_language

    raw = read(repo, f"sentiment labelled sentences/{site}_labelled.txt").decode("utf-8")
    pos, neg = [], []
    for line in raw.splitlines():
        text, _, score = line.rpartition("\t")
        text = _clean(text)
        if not (8 <= len(text) <= MAX_CHARS) or detect_language(text) != "en":
            continue
        if score.strip() == "1":
            pos.append(row(text, "advocate", "en", source, "positive"))
        elif score.strip() == "0":
            neg.append(row(text, "complaint", "en", source, "negative", subtype="unhappy"))
    return rng.sample(pos, min(n, len(pos))) + rng.sample(neg, min(n, len(neg)))


def amazon_sentences(repo: Path, rng: random.Random, n: int) -> list[dict]:
    """Phone-accessory review sentences from Amazon (Kotzias et al.)."""
    return _kotzias(repo, rng, n, "amazon_cells", "amazon_sentences")


def yelp_sentences(repo: Path, rng: random.Random, n: int) -> list[dict]:
    """Restaurant review sentences from Yelp (Kotzias et al.)."""
    return _kotzias(repo, rng, n, "yelp", "yelp_sentences")


BUILDERS = {
    "davidson": (davidson, "real_en_davidson.jsonl", 300),
    "banking77": (banking77, "real_en_banking77.jsonl", 250),
    "chatterbot": (chatterbot_en, "real_en_chatterbot.jsonl", 120),
    "crosswoz": (crosswoz, "real_zh_crosswoz.jsonl", 300),
    "kdconv": (kdconv, "real_zh_kdconv.jsonl", 300),
    "amazon_sentences": (amazon_sentences, "real_en_amazon_sentences.jsonl", 200),
    "yelp_sentences": (yelp_sentences, "real_en_yelp_sentences.jsonl", 200),
}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    for name in BUILDERS:
        flag = name.replace("_", "-")
        ap.add_argument(f"--{flag}", dest=name, type=Path, help=f"checkout holding {name}")
    ap.add_argument("--out", type=Path, required=True)
    args = ap.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    for name, (build, filename, n) in BUILDERS.items():
        repo = getattr(args, name)
        if repo is None:
            continue
        rng = random.Random(f"{SEED}-{name}")  # noqa: S311 - sampling, not security
        rows = build(repo, rng, n)
        with (args.out / filename).open("w", encoding="utf-8") as f:
            for r in rows:
                f.write(json.dumps(r, ensure_ascii=False) + "\n")
        print(f"{filename}: {len(rows)} rows")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
