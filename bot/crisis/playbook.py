"""The crisis playbook: holding statements for messages in an open incident, each needing a
supervisor's approval. Templates live in data/holding.yaml; a brand's
<playbook dir>/crisis/holding.yaml replaces the sections it names."""

from __future__ import annotations

import re
from pathlib import Path
from string import Formatter

import yaml

from db.enums import Role
from playbooks.engine import DraftCandidate
from playbooks.render import check_segments, fill

DEFAULT_FILE = Path(__file__).parent / "data" / "holding.yaml"
ALLOWED = {"name", "brand"}
FALLBACKS = {"zh-Hans": ("zh-Hans", "zh-Hant", "en"), "zh-Hant": ("zh-Hant", "en")}


class HoldingError(ValueError):
    """A holding-statement file that cannot be used."""


class HoldingStatements:
    def __init__(
        self,
        templates: dict[str, dict[str, list[str]]],
        policy: dict,
        direct: dict[str, dict[str, list[str]]] | None = None,
    ):
        self.templates = templates
        self.direct = direct or {}  # one-to-one chats: no "message us privately" there
        self.policy = {**policy, "required_role": Role.SUPERVISOR, "auto_send": False}

    @classmethod
    def load(cls, override: Path | None = None) -> HoldingStatements:
        data = _read(DEFAULT_FILE)
        templates = dict(data.get("templates") or {})
        direct = dict(data.get("direct") or {})
        policy = dict(data.get("policy") or {})
        if override and override.is_file():
            extra = _read(override)
            templates.update(extra.get("templates") or {})
            for section in extra.get("templates") or {}:  # a replaced section's direct goes too
                direct.pop(section, None)
            direct.update(extra.get("direct") or {})
            policy.update(extra.get("policy") or {})
        for pool in (templates, direct):
            for section, langs in pool.items():
                for lang, items in (langs or {}).items():
                    for template in items or []:
                        _check(f"{section}.{lang}", template)
        if not templates.get("default"):
            raise HoldingError("holding statements need a `default` section")
        return cls(templates, policy, direct)

    def drafts(
        self,
        category: str | None,
        language: str | None,
        name: str | None,
        brand: str,
        direct: bool = False,
    ) -> list[DraftCandidate]:
        """Holding statements for the incident's category in the customer's language; in a
        one-to-one chat its `direct` wording where the file has one."""
        section = self.templates.get(category or "") or self.templates["default"]
        if direct:
            key = category if category in self.templates else "default"
            section = self.direct.get(key) or section
        found: list[str] = []
        for lang in FALLBACKS.get(language or "", ("en", "zh-Hant")):
            if section.get(lang):
                found = section[lang]
                break
        values = {"name": name or "", "brand": brand}
        return [
            DraftCandidate(
                text=_tidy(fill(t, values)),
                playbook=f"crisis/{category if category in self.templates else 'default'}",
                required_role=Role.SUPERVISOR,
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
    wrong = check_segments(template)
    if wrong:
        raise HoldingError(f"holding statement {where}: {wrong}")
    for _, field, _, _ in Formatter().parse(template):
        if field is not None and field not in ALLOWED:
            raise HoldingError(f"holding statement {where}: unknown variable {{{field}}}")


def _tidy(text: str) -> str:
    """Close the gap an empty {name} leaves ("Hi , thanks" → "Hi, thanks"; "您好" stays)."""
    return re.sub(r" {2,}", " ", re.sub(r"\s+([,!.?，。！])", r"\1", text)).strip()
