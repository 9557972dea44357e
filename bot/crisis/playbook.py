"""The crisis playbook: holding statements for messages in an open incident, each needing a
supervisor's approval. Templates live in data/holding.yaml; a brand's
<playbook dir>/crisis/holding.yaml replaces the sections it names."""

from __future__ import annotations

import re
from pathlib import Path
from string import Formatter

import yaml

from playbooks.engine import DraftCandidate

DEFAULT_FILE = Path(__file__).parent / "data" / "holding.yaml"
ALLOWED = {"name", "brand"}
FALLBACKS = {"zh-Hans": ("zh-Hans", "zh-Hant", "en"), "zh-Hant": ("zh-Hant", "en")}


class HoldingError(ValueError):
    """A holding-statement file that cannot be used."""


class HoldingStatements:
    def __init__(self, templates: dict[str, dict[str, list[str]]], policy: dict):
        self.templates = templates
        self.policy = {**policy, "required_role": "supervisor", "auto_send": False}

    @classmethod
    def load(cls, override: Path | None = None) -> HoldingStatements:
        data = _read(DEFAULT_FILE)
        templates = dict(data.get("templates") or {})
        policy = dict(data.get("policy") or {})
        if override and override.is_file():
            extra = _read(override)
            templates.update(extra.get("templates") or {})
            policy.update(extra.get("policy") or {})
        for section, langs in templates.items():
            for lang, items in (langs or {}).items():
                for template in items or []:
                    _check(f"{section}.{lang}", template)
        if not templates.get("default"):
            raise HoldingError("holding statements need a `default` section")
        return cls(templates, policy)

    def drafts(
        self, category: str | None, language: str | None, name: str | None, brand: str
    ) -> list[DraftCandidate]:
        section = self.templates.get(category or "") or self.templates["default"]
        found: list[str] = []
        for lang in FALLBACKS.get(language or "", ("en", "zh-Hant")):
            if section.get(lang):
                found = section[lang]
                break
        values = {"name": name or "", "brand": brand}
        return [
            DraftCandidate(
                text=_tidy(t.format(**values)),
                playbook=f"crisis/{category if category in self.templates else 'default'}",
                required_role="supervisor",
                auto_send=False,
                policy=self.policy,
            )
            for t in found
        ]


def _read(path: Path) -> dict:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as exc:
        raise HoldingError(f"{path}: invalid YAML: {exc}") from exc
    if not isinstance(data, dict):
        raise HoldingError(f"{path}: expected a mapping at the top level")
    return data


def _check(where: str, template: str) -> None:
    for _, field, _, _ in Formatter().parse(template):
        if field is not None and field not in ALLOWED:
            raise HoldingError(f"holding statement {where}: unknown variable {{{field}}}")


def _tidy(text: str) -> str:
    """Close the gap an empty {name} leaves ("Hi , thanks" → "Hi, thanks"; "您好" stays)."""
    return re.sub(r" {2,}", " ", re.sub(r"\s+([,!.?，。！])", r"\1", text)).strip()
