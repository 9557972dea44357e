"""Playbooks: turn a classified message into candidate replies and the policy that governs them.

A playbook is data (one YAML file per commenter type, plus `suggestion`, `handoff` and
`after_hours`): its goal per relationship stage, tone rules, a policy, and sections of reply
templates per stage, complaint subtype or situation, in zh-Hant, zh-Hans and English. The folder
also holds `brand.yaml` (voice, hours) and `faq.yaml`. A brand's folder only needs the files it
changes; the rest come from the defaults. Every problem is reported as `file:line: what`."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path
from string import Formatter
from typing import Any

from db.enums import Role
from nlp.types import COMMENTER_TYPES, COMPLAINT_SUBTYPES, STAGES, Classification
from nlp.zh_chars import to_simplified
from playbooks.brand import LANGUAGES, Brand, load_brand
from playbooks.debris import asks_to_go_private, find_debris
from playbooks.extract import MENTION_VARIABLES, Vocabulary, extract
from playbooks.faq import Embed, Faq, FaqMatch, load_entries
from playbooks.policy import ACTIONS, DEFAULT_POLICY, POLICY_KEYS, Policy
from playbooks.render import check_segments, fill
from playbooks.safety import mentions_safety
from playbooks.yamlfile import Mapping, PlaybookError, Reader, Sequence, load

log = logging.getLogger(__name__)
DEFAULT_DIR = Path(__file__).parent / "default"
ROLES = tuple(Role)
SPECIAL_TYPES = ("suggestion", "handoff", "after_hours")
PLAYBOOK_TYPES = COMMENTER_TYPES + SPECIAL_TYPES
NOTIFY_SECTIONS = ("under_review", "adopted", "declined")
MAX_CANDIDATES = 3
VARIABLES = ("name", "brand", "hours", "reply_within", "faq_answer", "ticket", "proposal",
             "next_open", *MENTION_VARIABLES)  # fmt: skip
# values a reply may have to do without: templates must read well with each of them empty
OPTIONAL = ("name", "brand", "ticket", "proposal", "hours", "reply_within", "next_open",
            *MENTION_VARIABLES)  # fmt: skip
__all__ = ["DraftCandidate", "DraftContext", "Playbook", "PlaybookError", "Playbooks", "Plan"]


@dataclass(frozen=True)
class Section:
    name: str
    templates: dict[str, list[str]]  # language → templates (public comment or any chat)
    direct: dict[str, list[str]]  # language → templates for a one-to-one chat, if different
    policy: dict[str, Any]  # what this section changes of its playbook's policy
    needs_faq: bool = False
    fallback: str | None = None

    def for_language(self, language: str, direct: bool) -> list[str]:
        """Templates in the customer's language and script; a brand that wrote no zh-Hans
        gets its zh-Hant converted character by character."""
        pool = self.direct if direct and self.direct else self.templates
        if pool.get(language):
            return pool[language]
        if language == "zh-Hans" and pool.get("zh-Hant"):
            return [to_simplified(t) for t in pool["zh-Hant"]]
        return pool.get("en") or pool.get("zh-Hant") or []


@dataclass(frozen=True)
class Playbook:
    type: str
    goal: dict[str, str]
    tone: list[str]
    avoid: list[str]
    policy: dict[str, Any]  # what this playbook changes of the default policy
    sections: dict[str, Section]
    severe: dict  # {"sentiment_at_most": float|None, "mentions": [...], "policy": {...}}
    source: str

    def templates_for(self, stage: str, language: str) -> list[str]:
        """The templates a plain message of this type gets at `stage` (no FAQ, no subtype)."""
        for key in (stage, "holding", "default"):
            if key in self.sections and not self.sections[key].needs_faq:
                return self.sections[key].for_language(language, direct=True)
        return []


@dataclass(frozen=True)
class DraftContext:
    classification: Classification
    stage: str
    contact_name: str | None
    brand: str
    channel: str
    text: str
    chat_kind: str = "direct"
    at: datetime | None = None
    ticket: str | None = None
    proposal: str | None = None
    plan: Plan | None = None  # when the caller planned already (to open a ticket first)
    promised: bool = False  # an acknowledgement already told the customer when; say it once


@dataclass(frozen=True)
class Plan:
    """What a message gets: which playbook and section, under which policy, from which FAQ
    entry."""

    playbook: Playbook
    section: Section
    policy: Policy
    language: str
    faq: FaqMatch | None = None  # the confident match the reply is grounded in
    faq_suggestion: FaqMatch | None = None  # a closer-than-nothing match offered to reviewers
    severe: bool = False

    @property
    def name(self) -> str:
        return f"{self.playbook.type}/{self.section.name}"


@dataclass(frozen=True)
class DraftCandidate:
    text: str
    playbook: str
    required_role: Role = Role.AGENT
    auto_send: bool = False
    policy: dict[str, Any] = field(default_factory=dict)  # the snapshot a draft keeps


def reply_language(language: str | None) -> str:
    """Replies follow the customer's language and script; anything else gets English."""
    return language if language in LANGUAGES else "en"


class Playbooks:
    """The loaded folder: playbooks by type, the brand and the FAQ."""

    def __init__(
        self, playbooks: dict[str, Playbook], brand: Brand | None = None, faq: Faq | None = None
    ):
        self.by_type = playbooks
        self.brand = brand or Brand()
        self.faq = faq or Faq([], self.brand.faq, None)
        self.mentions = Vocabulary.load(None)  # what drafts may quote from a message
        self.directory: Path | None = None

    @classmethod
    def load(
        cls,
        directory: Path | None = None,
        embed: Embed | None = None,
        timezone: str = "Asia/Taipei",
    ) -> Playbooks:
        """Every playbook in `directory`, the defaults for types it does not cover; brand.yaml
        and the FAQ from the folder (or the defaults'). Raises PlaybookError on any problem."""
        directory = Path(directory or DEFAULT_DIR)
        if not directory.is_dir():
            raise PlaybookError(directory, None, "playbook folder does not exist")
        books = _load_folder(directory)
        if directory.resolve() != DEFAULT_DIR.resolve():
            for kind, book in _load_folder(DEFAULT_DIR).items():
                books.setdefault(kind, book)
        missing = set(PLAYBOOK_TYPES) - set(books)
        if missing:
            raise PlaybookError(directory, None, f"no playbook for {', '.join(sorted(missing))}")
        brand_file = directory / "brand.yaml"
        brand = load_brand(
            brand_file if brand_file.exists() else DEFAULT_DIR / "brand.yaml", timezone
        )
        faq_file = directory / brand.faq.file
        entries = load_entries(faq_file if faq_file.exists() else DEFAULT_DIR / brand.faq.file)
        loaded = cls(books, brand, Faq(entries, brand.faq, embed))
        loaded.directory = directory
        loaded.mentions = Vocabulary.load(directory)
        return loaded

    # ------------------------------------------------------------------ choosing

    def _book(self, result: Classification) -> Playbook:
        kind = result.type if result.type in self.by_type else "other"
        if result.suggestion and kind in ("advocate", "question", "other"):
            kind = "suggestion"
        return self.by_type[kind]

    @staticmethod
    def _keys(book: Playbook, result: Classification, stage: str) -> list[str]:
        """The sections that may answer, most specific first."""
        primary = {"complaint": result.subtype or "unhappy", "question": "answer"}.get(book.type)
        keys = [f"{primary}@{stage}", primary] if primary else []
        return keys + [stage, "default"]

    @staticmethod
    def _searches_faq(book: Playbook, keys) -> bool:
        """Whether any of these sections (those the book has) may answer from the FAQ."""
        return any(book.sections[k].needs_faq for k in keys if k in book.sections)

    def prepare(self, results: Iterable[Classification | Exception]) -> None:
        """Build the FAQ index now if these messages' sections may search it: the first build
        embeds every entry (seconds), which must not happen inside a write transaction."""
        for result in results:
            if not isinstance(result, Classification):
                continue
            book = self._book(result)
            names = {k for stage in STAGES for k in self._keys(book, result, stage)}
            if self._searches_faq(book, names):
                self.faq.prepare()
                return

    def plan(self, ctx: DraftContext) -> Plan:
        result = ctx.classification
        book = self._book(result)
        language = reply_language(result.language)
        keys = self._keys(book, result, ctx.stage)
        suggestion = None
        safety = mentions_safety(ctx.text)
        if self._searches_faq(book, keys) and not safety:  # health and safety: a person answers
            suggestion = self.faq.best(ctx.text, given=result)
        for key in keys:
            section = book.sections.get(key)
            if section is None:
                continue
            if section.needs_faq:
                if suggestion and suggestion.confident:
                    return self._plan(book, section, ctx, language, faq=suggestion)
                if section.fallback:
                    fallback = book.sections[section.fallback]
                    return self._plan(book, fallback, ctx, language, suggestion=suggestion)
                continue
            return self._plan(book, section, ctx, language, suggestion=suggestion)
        raise PlaybookError(book.source, None, f"no section fits {keys}")

    def _plan(self, book, section, ctx, language, faq=None, suggestion=None) -> Plan:
        severe = _is_severe(book.severe, ctx)
        layers = [book.policy, section.policy, book.severe.get("policy", {}) if severe else {}]
        policy = Policy.merged(*layers)
        if ctx.classification.low_confidence or mentions_safety(ctx.text):
            policy = policy.but(human_required=True, auto_send=False)
        return Plan(book, section, policy, language, faq, None if faq else suggestion, severe)

    def special(self, kind: str, section: str, ctx: DraftContext) -> Plan:
        """A plan for a system message: `handoff` (open/closed) or `after_hours`."""
        book = self.by_type[kind]
        chosen = book.sections.get(section) or book.sections["default"]
        return self._plan(book, chosen, ctx, reply_language(ctx.classification.language))

    # ------------------------------------------------------------------ writing

    def draft(self, ctx: DraftContext) -> list[DraftCandidate]:
        """Candidate replies for the message, best first (at most three)."""
        plan = ctx.plan or self.plan(ctx)
        candidates = self.render(plan, ctx)
        if plan.faq_suggestion and "answer" in plan.playbook.sections:
            # a possible FAQ answer the model is not sure of: offered, never sent on its own
            offered = replace(plan, section=plan.playbook.sections["answer"],
                              faq=plan.faq_suggestion, faq_suggestion=None)  # fmt: skip
            candidates += [
                replace(c, auto_send=False) for c in self.render(offered, ctx, confident=False)[:1]
            ]
        return candidates[:MAX_CANDIDATES]

    def render(self, plan: Plan, ctx: DraftContext, confident: bool = True) -> list[DraftCandidate]:
        values = self.values(plan.language, ctx, plan.faq)
        policy = plan.policy
        auto = policy.may_send_alone and not ctx.classification.low_confidence
        snapshot: dict[str, Any] = {
            **policy.as_dict(),
            "section": plan.section.name,
            "goal": plan.playbook.goal.get(ctx.stage, ""),
            "tone": plan.playbook.tone,
            "language": plan.language,
            "severe": plan.severe,
        }
        if plan.faq:
            snapshot["faq"] = {
                "id": plan.faq.entry.id,
                "score": plan.faq.score,
                "confident": confident and plan.faq.confident,
                "question": plan.faq.entry.question_in(plan.language),
            }
        for key in ("ticket", "proposal"):
            if getattr(ctx, key):
                snapshot[key] = getattr(ctx, key)
        templates = plan.section.for_language(plan.language, direct=ctx.chat_kind == "direct")
        return [
            DraftCandidate(
                text=self.brand.voice(_fill(t, values), plan.language, values["brand"]),
                playbook=plan.name,
                required_role=policy.required_role,
                auto_send=auto,
                policy=snapshot,
            )
            for t in templates
        ]

    def values(self, language: str, ctx: DraftContext, faq: FaqMatch | None) -> dict[str, str]:
        brand = self.brand.name_in(language, ctx.brand)
        hours = self.brand.hours
        at = ctx.at
        next_open = hours.next_open(at) if at else None
        base = {
            "name": ctx.contact_name or "",
            "brand": brand,
            "hours": hours.describe(language),
            "reply_within": "" if ctx.promised else f"{self.brand.reply_within_hours:g}",
            "next_open": hours.when(next_open, language) if next_open else "",
            "ticket": ctx.ticket or "",
            "proposal": ctx.proposal or "",
            "faq_answer": "",
            **extract(ctx.text, language, self.mentions).values(),
        }
        if faq:
            base["faq_answer"] = _fill(faq.entry.answer_in(language), base)
        return base

    def check_rendering(self) -> list[str]:
        """Every template rendered with all values, and without each optional one, in every
        language: `file: where: debris` for each broken result (empty when all read well)."""
        full = {name: f"<{name}>" for name in VARIABLES}
        full.update(name="王小明", brand="小森生活", ticket="CS-00042", proposal="P-00007",
                    hours="11:00-19:00", reply_within="4", next_open="明天 11:00",
                    faq_answer="我們週一到週五出貨。", order="A20231120", branch="信義店",
                    product="檸檬塔", place="信義區", when="昨天", praised="店員的服務",
                    problem="訂單還沒收到")  # fmt: skip
        variants = [("", full)] + [(f" without {n}", {**full, n: ""}) for n in OPTIONAL]
        variants.append((" without any optional value", {**full, **dict.fromkeys(OPTIONAL, "")}))
        problems = []
        for book in self.by_type.values():
            for section in book.sections.values():
                for key, pool in (("templates", section.templates), ("direct", section.direct)):
                    for language in LANGUAGES:
                        if not pool:
                            continue
                        templates = section.for_language(language, direct=key == "direct")
                        for index, template in enumerate(templates):
                            where = f"sections.{section.name}.{key}.{language}[{index}]"
                            private = key == "direct" or not section.direct
                            if private and asks_to_go_private(fill(template, full)):
                                problems.append(f"{book.source}: {where}: asks for a private "
                                                "message, but is also used in private chats "
                                                "(write a direct: variant)")  # fmt: skip
                            for label, values in variants:
                                for found in find_debris(fill(template, values)):
                                    problems.append(f"{book.source}: {where}{label}: {found}")
        return problems


def _fill(template: str, values: dict[str, str]) -> str:
    return _tidy(fill(template, values))


def _tidy(text: str) -> str:
    """Close the gap an empty variable (a contact without a known name) leaves: "Hi , thanks"
    → "Hi, thanks", "Thank you,!" → "Thank you!", "{name}, thank you" → "Thank you"."""
    text = re.sub(r"[ \t]+([,!.?，。！？、])", r"\1", text)
    text = re.sub(r"[,，、](?=[!.?,，。！？、])", "", text)
    text = re.sub(r"[ \t]{2,}", " ", text).strip()
    if text[:1] in (",", "，", "、"):  # the sentence began with the name
        text = text[1:].lstrip()
        text = text[:1].upper() + text[1:]
    return text


def _is_severe(rule: dict, ctx: DraftContext) -> bool:
    if not rule:
        return False
    limit = rule.get("sentiment_at_most")
    if limit is not None and ctx.classification.sentiment <= limit:
        return True
    text = ctx.text.lower()
    return any(word in text for word in rule.get("mentions", []))


# ---------------------------------------------------------------------- reading files


def _load_folder(directory: Path) -> dict[str, Playbook]:
    books: dict[str, Playbook] = {}
    for path in sorted(directory.glob("*.yaml")):
        if path.name in ("brand.yaml", "mentions.yaml") or path.name.startswith("faq"):
            continue
        book = _parse(path)
        if book.type in books:
            raise PlaybookError(path, None, f"a second playbook for {book.type!r} "
                                f"(the first is {books[book.type].source})")  # fmt: skip
        books[book.type] = book
    return books


def _parse(path: Path) -> Playbook:
    data = load(path)
    r = Reader(path)
    if not isinstance(data, Mapping):
        raise r.fail(data, None, "a playbook is a mapping with type, goal, policy and sections")
    r.only(data, ("type", "goal", "tone", "avoid", "policy", "severe", "sections"), "playbook")
    kind = r.choice(data, "type", "playbook", PLAYBOOK_TYPES, None)
    goal = r.mapping(data, "goal", "playbook", required=kind not in ("handoff", "after_hours"))
    r.only(goal, STAGES, "goal")
    goals = {stage: r.text(goal, stage, "goal", required=True) for stage in goal}
    if kind in COMMENTER_TYPES and set(goals) != set(STAGES):
        raise r.fail(goal, None, f"goal needs a line for each stage: {', '.join(STAGES)}")
    policy = _policy(r, r.mapping(data, "policy", "playbook"), "policy")
    avoid = _avoid(r, data)
    sections_node = r.mapping(data, "sections", "playbook", required=True)
    sections = {name: _section(r, kind, sections_node, name, avoid) for name in sections_node}
    _check_sections(r, kind, sections_node, sections, policy)
    severe = _severe(r, data) if data.get("severe") is not None else {}
    return Playbook(
        type=kind,
        goal=goals,
        tone=r.texts(data, "tone", "playbook"),
        avoid=avoid,
        policy=policy,
        sections=sections,
        severe=severe,
        source=str(path),
    )


def _allowed_sections(kind: str) -> set[str]:
    names = {"default", *STAGES}
    if kind == "complaint":
        names |= set(COMPLAINT_SUBTYPES) | {f"{s}@{g}" for s in COMPLAINT_SUBTYPES for g in STAGES}
        names |= {"holding"}
    if kind == "question":
        names |= {"answer", "holding"} | {f"answer@{g}" for g in STAGES}
    if kind == "suggestion":
        names |= set(NOTIFY_SECTIONS)
    if kind == "handoff":
        names = {"open", "closed"}
    if kind == "after_hours":
        names = {"default"}
    return names


def _policy(r: Reader, node: Mapping, where: str) -> dict[str, Any]:
    """The keys a policy block sets, checked (the layers `Policy.merged` lays over the
    defaults)."""
    r.only(node, POLICY_KEYS, where)
    out: dict[str, Any] = {}
    for key, default in DEFAULT_POLICY.as_dict().items():
        if key not in node:
            continue
        if isinstance(default, bool):
            out[key] = r.boolean(node, key, where, default)
        elif key == "required_role":
            out[key] = r.choice(node, key, where, ROLES, "agent")
        elif key == "actions":
            actions = r.texts(node, key, where)
            for index, action in enumerate(actions):
                if action not in ACTIONS:
                    raise r.fail(node[key], index, f"{where}.actions: {action!r} is not one of "
                                 f"{', '.join(ACTIONS)}")  # fmt: skip
            out[key] = actions
        else:
            out[key] = int(r.number(node, key, where, default, 0, 60 * 24 * 30))
    return out


def _avoid(r: Reader, data: Mapping) -> list[str]:
    node = r.mapping(data, "avoid", "playbook")
    r.only(node, LANGUAGES, "avoid")
    return [p.lower() for lang in node for p in r.texts(node, lang, "avoid")]


def _section(r: Reader, kind: str, parent: Mapping, name: str, avoid: list[str]) -> Section:
    if name not in _allowed_sections(kind):
        allowed = ", ".join(sorted(_allowed_sections(kind)))
        raise r.fail(parent, name, f"{kind} has no section {name!r} (sections: {allowed})")
    node = parent[name]
    where = f"sections.{name}"
    if not isinstance(node, Mapping):
        raise r.fail(parent, name, f"{where} must be a mapping with templates")
    r.only(node, ("templates", "direct", "policy", "needs", "fallback"), where)
    needs = node.get("needs")
    if needs not in (None, "faq"):
        raise r.fail(node, "needs", f"{where}.needs can only be faq, not {needs!r}")
    templates = _templates(r, node, "templates", where, avoid, needs, required=True)
    direct = _templates(r, node, "direct", where, avoid, needs, required=False)
    policy = _policy(r, r.mapping(node, "policy", where), f"{where}.policy")
    fallback = r.text(node, "fallback", where)
    if fallback and (fallback not in parent or fallback == name):
        raise r.fail(node, "fallback", f"{where}.fallback names no other section: {fallback!r}")
    if fallback and not needs:
        raise r.fail(node, "fallback", f"{where}: a fallback only makes sense with needs: faq")
    return Section(name, templates, direct, policy, needs == "faq", fallback)


def _templates(r, node, key, where, avoid, needs, required) -> dict[str, list[str]]:
    spec = node.get(key)
    if spec is None:
        if required:
            raise r.fail(node, None, f"{where}: '{key}' is missing")
        return {}
    if not isinstance(spec, Mapping):
        raise r.fail(node, key, f"{where}.{key} needs one list per language (zh-Hant:, en:)")
    r.only(spec, LANGUAGES, f"{where}.{key}")
    for lang in ("zh-Hant", "en"):
        if not spec.get(lang):
            raise r.fail(spec, None, f"{where}.{key} needs {lang} templates")
    out = {}
    for lang in spec:
        items = spec[lang]
        texts = r.texts(spec, lang, f"{where}.{key}")
        for index, template in enumerate(texts):
            line = items.line_of(index) if isinstance(items, Sequence) else spec.line_of(lang)
            _check_template(r.path, line, f"{where}.{key}.{lang}", template, avoid, needs)
        out[lang] = texts
    return out


def _check_template(path, line, where, template, avoid, needs) -> None:
    try:
        fields = [f for _, f, _, _ in Formatter().parse(template) if f is not None]
    except ValueError as exc:
        raise PlaybookError(path, line, f"{where}: broken braces in {template!r}: {exc}") from exc
    wrong = check_segments(template)
    if wrong:
        raise PlaybookError(path, line, f"{where}: {wrong}")
    for name in fields:
        if name not in VARIABLES:
            raise PlaybookError(path, line, f"{where}: unknown variable {{{name}}} "
                                f"(variables: {', '.join(VARIABLES)})")  # fmt: skip
        if name == "faq_answer" and needs != "faq":
            raise PlaybookError(path, line, f"{where}: {{faq_answer}} needs 'needs: faq'")
    lowered = template.lower()
    for phrase in avoid:
        if phrase in lowered:
            raise PlaybookError(path, line, f"{where}: uses {phrase!r}, which 'avoid' forbids")


def _check_sections(r, kind, node, sections, policy) -> None:
    required = {
        "handoff": ("open", "closed"),
        "suggestion": NOTIFY_SECTIONS,
        "question": ("answer", "holding"),
    }.get(kind, ())
    for name in required:
        if name not in sections:
            raise r.fail(node, None, f"{kind} needs a section {name!r}")
    if "default" not in sections and kind not in ("handoff", "after_hours", "question"):
        raise r.fail(node, None, f"{kind} needs a 'default' section for anything unmatched")
    for name, section in sections.items():
        merged = Policy.merged(policy, section.policy)
        for lang_templates in (section.templates, section.direct):
            for templates in lang_templates.values():
                for template in templates:
                    if "{ticket}" in template and not merged.opens_ticket:
                        raise r.fail(node, name, f"sections.{name}: {{ticket}} needs "
                                     "policy.opens_ticket: true")  # fmt: skip
                    if "{proposal}" in template and not (
                        merged.records_proposal or name in NOTIFY_SECTIONS
                    ):
                        raise r.fail(node, name, f"sections.{name}: {{proposal}} needs "
                                     "policy.records_proposal: true")  # fmt: skip


def _severe(r: Reader, data: Mapping) -> dict:
    node = r.mapping(data, "severe", "playbook")
    r.only(node, ("sentiment_at_most", "mentions", "policy"), "severe")
    return {
        "sentiment_at_most": r.number(node, "sentiment_at_most", "severe", None, -1, 1),
        "mentions": [m.lower() for m in r.texts(node, "mentions", "severe")],
        "policy": _policy(r, r.mapping(node, "policy", "severe"), "severe.policy"),
    }
