"""The brand's own settings from `brand.yaml` in the playbook folder: name, voice (sign-off,
formality, emoji), business hours and holidays, handoff words, FAQ thresholds, numbering."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from playbooks.handoff import HandoffRules
from playbooks.hours import BusinessHours, parse_day_spec, parse_spans
from playbooks.voice import EMOJI_USES, FORMALITIES, apply_voice
from playbooks.yamlfile import Mapping, Reader, Sequence, load

LANGUAGES = ("zh-Hant", "zh-Hans", "en")
KEYS = (
    "name",
    "sign_off",
    "formality",
    "emoji",
    "timezone",
    "hours",
    "holidays",
    "reply_within_hours",
    "ticket_prefix",
    "proposal_prefix",
    "faq",
    "handoff",
)


@dataclass(frozen=True)
class FaqSettings:
    file: str = "faq.yaml"
    answer_at: float = 0.86  # a match this close is answered from the FAQ...
    lift: float = 0.032  # ...when it also stands this far above the average entry
    suggest_at: float = 0.84  # closer than this, the entry is offered to the reviewer
    margin: float = 0.0  # ...and stands this far above the next entry (two needs: a person)


@dataclass(frozen=True)
class Brand:
    name: dict[str, str] = field(default_factory=dict)  # language → name; empty = settings
    sign_off: dict[str, str] = field(default_factory=dict)
    formality: str = "polite"
    emoji: str = "one"
    hours: BusinessHours = field(default_factory=BusinessHours)
    reply_within_hours: float = 4
    ticket_prefix: str = "CS"
    proposal_prefix: str = "P"
    faq: FaqSettings = field(default_factory=FaqSettings)
    handoff: HandoffRules = field(default_factory=HandoffRules)
    source: str = ""

    def name_in(self, language: str, default: str) -> str:
        return _pick(self.name, language) or default

    def voice(self, text: str, language: str, brand_name: str) -> str:
        sign_off = _pick(self.sign_off, language).replace("{brand}", brand_name)
        return apply_voice(text, language, self.formality, self.emoji, sign_off)


def _pick(by_language: dict[str, str], language: str) -> str:
    for lang in (language, "zh-Hant" if language == "zh-Hans" else "en", "en"):
        if by_language.get(lang):
            return by_language[lang]
    return ""


def load_brand(path: Path, default_timezone: str = "Asia/Taipei") -> Brand:
    """brand.yaml parsed and checked; a missing file means the defaults."""
    if not path.exists():
        return Brand(hours=BusinessHours(timezone=default_timezone))
    data = load(path)
    r = Reader(path)
    if data is None:
        return Brand(hours=BusinessHours(timezone=default_timezone), source=str(path))
    if not isinstance(data, Mapping):
        raise r.fail(data, None, "brand.yaml must be a mapping (key: value lines)")
    r.only(data, KEYS, "brand")
    return Brand(
        name=_by_language(r, data, "name"),
        sign_off=_by_language(r, data, "sign_off"),
        formality=r.choice(data, "formality", "brand", FORMALITIES, "polite"),
        emoji=r.choice(data, "emoji", "brand", EMOJI_USES, "one"),
        hours=_hours(r, data, default_timezone),
        reply_within_hours=r.number(data, "reply_within_hours", "brand", 4, 0.25, 24 * 14),
        ticket_prefix=_prefix(r, data, "ticket_prefix", "CS"),
        proposal_prefix=_prefix(r, data, "proposal_prefix", "P"),
        faq=_faq(r, data),
        handoff=_handoff(r, data),
        source=str(path),
    )


def _by_language(r: Reader, data: Mapping, key: str) -> dict[str, str]:
    value = data.get(key)
    if value is None:
        return {}
    if isinstance(value, str):
        return {lang: value.strip() for lang in LANGUAGES}
    if not isinstance(value, Mapping):
        raise r.fail(data, key, f"brand.{key} must be a text or one text per language")
    r.only(value, LANGUAGES, f"brand.{key}")
    texts = {lang: r.text(value, lang, f"brand.{key}") for lang in value}
    return {lang: text for lang, text in texts.items() if text is not None}


def _prefix(r: Reader, data: Mapping, key: str, default: str) -> str:
    value = r.text(data, key, "brand") or default
    if not value.replace("-", "").isalnum() or len(value) > 8:
        raise r.fail(data, key, f"brand.{key} must be up to 8 letters or digits")
    return value


def _hours(r: Reader, data: Mapping, default_timezone: str) -> BusinessHours:
    zone = r.text(data, "timezone", "brand") or default_timezone
    try:
        ZoneInfo(zone)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise r.fail(data, "timezone", f"brand.timezone {zone!r} is not a known timezone") from exc
    weekly: dict[int, list] = {}
    spec = r.mapping(data, "hours", "brand")
    for days, spans in spec.items():
        if not isinstance(days, str) or not isinstance(spans, str):
            raise r.fail(
                spec, days, "brand.hours lines look like  mon-fri: 09:00-18:00  (quote the times)"
            )
        try:
            for day in parse_day_spec(days):
                if day in weekly:
                    raise ValueError(f"{days!r} repeats a day given on an earlier line")
                weekly[day] = parse_spans(spans)
        except ValueError as exc:
            raise r.fail(spec, days, f"brand.hours: {exc}") from exc
    weekly = {day: spans for day, spans in weekly.items() if spans}
    if spec and not weekly:
        raise r.fail(data, "hours", "brand.hours closes every day; remove it to be always open")
    return BusinessHours(timezone=zone, weekly=weekly, holidays=_holidays(r, data))


def _holidays(r: Reader, data: Mapping) -> dict[date, str]:
    items = data.get("holidays")
    if items is None:
        return {}
    if not isinstance(items, Sequence):
        raise r.fail(data, "holidays", "brand.holidays must be a list of dates")
    out: dict[date, str] = {}
    for index, item in enumerate(items):
        if isinstance(item, date):
            out[item] = "holiday"
            continue
        if not isinstance(item, Mapping) or not isinstance(item.get("date"), date):
            raise r.fail(
                items, index, "each holiday is a date (2026-01-01) or {date:, until:, name:}"
            )
        first, last = item["date"], item.get("until", item["date"])
        if not isinstance(last, date) or last < first or (last - first).days > 60:
            raise r.fail(item, "until", "holiday 'until' must be a date up to 60 days after 'date'")
        day = first
        while day <= last:
            out[day] = str(item.get("name") or "holiday")
            day += timedelta(days=1)
    return out


def _faq(r: Reader, data: Mapping) -> FaqSettings:
    spec = r.mapping(data, "faq", "brand")
    r.only(spec, ("file", "answer_at", "lift", "suggest_at", "margin"), "brand.faq")
    settings = FaqSettings(
        file=r.text(spec, "file", "brand.faq") or "faq.yaml",
        answer_at=r.number(spec, "answer_at", "brand.faq", FaqSettings.answer_at, 0, 1),
        lift=r.number(spec, "lift", "brand.faq", FaqSettings.lift, 0, 1),
        suggest_at=r.number(spec, "suggest_at", "brand.faq", FaqSettings.suggest_at, 0, 1),
        margin=r.number(spec, "margin", "brand.faq", FaqSettings.margin, 0, 1),
    )
    if settings.suggest_at > settings.answer_at:
        raise r.fail(spec, "suggest_at", "brand.faq.suggest_at must not exceed answer_at")
    return settings


def _handoff(r: Reader, data: Mapping) -> HandoffRules:
    spec = r.mapping(data, "handoff", "brand")
    r.only(spec, ("phrases", "short_words"), "brand.handoff")
    return HandoffRules().extended(
        r.texts(spec, "phrases", "brand.handoff"), r.texts(spec, "short_words", "brand.handoff")
    )
