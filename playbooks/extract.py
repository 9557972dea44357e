"""What the customer named, as spans of their own message: an order number, a branch, a
product, a place, a day, what they praised, and the problem they report. Drafts quote these
so a reply reflects the message; nothing is ever inferred beyond the words they wrote.

The vocabulary is data (playbooks/default/mentions.yaml, or mentions.yaml in a brand's
playbook folder): product words, praise words and problem phrases with a neutral restatement
in each language."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import yaml

DEFAULT_FILE = Path(__file__).parent / "default" / "mentions.yaml"
ORDER = re.compile(
    r"(?:訂單|订单|order)\s*(?:編號|编号|number|no\.?|#)?\s*[:：#]?\s*#?([A-Za-z]{0,3}\d[\d-]{3,})"
    r"|#([A-Za-z]{1,3}\d{4,})",
    re.I,
)
BRANCH = re.compile(
    r"([\u4e00-\u9fff]{2,3}(?:店|門市|门市|分店))(?![員员長长])"
    r"|(?:at|from) (?:your|the) ([A-Z][a-z]+) (?:branch|store|shop)"
    r"|(?:your|the) ([A-Z][a-z]+) (?:branch|store|shop)"
)
PLACE = re.compile(
    r"([\u4e00-\u9fff]{2}(?:區|区|市|縣|县))|(?:to|in) ([A-Z][a-z]+(?: [A-Z][a-z]+)?)"
)
WHEN = re.compile(
    r"(昨天|前天|今天|上週[一二三四五六日天]?|上周[一二三四五六日天]?|週[一二三四五六日]|周[一二三四五六日]"
    r"|\d{1,2}/\d{1,2}|\d{1,2}月\d{1,2}[日號号])"
    r"|\b(yesterday|today|last week"
    r"|on (?:Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday))\b",
    re.I,
)  # fmt: skip
NOT_A_BRANCH = ("商店", "本店", "這家店", "这家店", "網店", "网店", "我們店", "我们店", "那家店")


@dataclass(frozen=True)
class Problem:
    phrases: tuple[str, ...]
    say: dict[str, str]  # language → a neutral restatement ("訂單還沒收到")


@dataclass(frozen=True)
class Vocabulary:
    products: tuple[str, ...] = ()
    praise: dict[str, dict[str, str]] = field(default_factory=dict)  # word → language → say
    problems: tuple[Problem, ...] = ()

    @classmethod
    def load(cls, directory: Path | None = None) -> Vocabulary:
        path = directory / "mentions.yaml" if directory else None
        path = path if path and path.is_file() else DEFAULT_FILE
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        return cls(
            products=tuple(sorted(data.get("products") or [], key=len, reverse=True)),
            praise={str(k): dict(v) for k, v in (data.get("praise") or {}).items()},
            problems=tuple(
                Problem(tuple(p["phrases"]), dict(p["say"])) for p in data.get("problems") or []
            ),
        )


@dataclass(frozen=True)
class Mentions:
    order: str = ""
    branch: str = ""
    product: str = ""
    place: str = ""
    when: str = ""
    praised: str = ""  # what they praised, in the reply's language ("店員的服務")
    problem: str = ""  # the problem restated neutrally, in the reply's language

    def values(self) -> dict[str, str]:
        return {k: getattr(self, k) for k in MENTION_VARIABLES}


MENTION_VARIABLES = ("order", "branch", "product", "place", "when", "praised", "problem")


def extract(text: str, language: str, vocabulary: Vocabulary) -> Mentions:
    """The spans of `text` a reply may name; empty strings where the message names nothing."""
    text = text or ""
    lowered = text.lower()
    order = _first(ORDER, text)
    branch = _first(BRANCH, text)
    branch = branch.lstrip("在的去到從从跟")
    if branch in NOT_A_BRANCH or len(branch) < 2:
        branch = ""
    product = next((p for p in vocabulary.products if p.lower() in lowered), "")
    place = "" if branch else _first(PLACE, text)
    if place and (place in branch or place == order or place[:1].islower()):
        place = ""
    when = _first(WHEN, text)
    praised = ""
    for word, say in vocabulary.praise.items():
        if word.lower() in lowered:
            praised = say.get(language) or say.get("en") or ""
            break
    if not praised and product:
        praised = f"the {product}" if language == "en" and product.isascii() else product
    problem = next(
        (p.say.get(language) or p.say.get("en", "") for p in vocabulary.problems
         if any(phrase.lower() in lowered for phrase in p.phrases)),
        "",
    )  # fmt: skip
    return Mentions(order, branch, product, place, when, praised, problem)


def _first(pattern: re.Pattern, text: str) -> str:
    match = pattern.search(text)
    if not match:
        return ""
    return next((g for g in match.groups() if g), match.group(0)).strip()
