"""The README and docs/architecture.md name only files and folders that exist, so a module moved
without its docs fails the tests instead of leaving a newcomer a wrong map."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
TOP = "bot|handlers|nlp|playbooks|db|tests|bench|scripts|deploy|examples|docs"
PATH = re.compile(rf"(?<![\w/.-])(?:{TOP})/[\w./-]*\w")
LOCAL_ONLY = {"deploy/.env"}  # made by whoever deploys, never committed


@pytest.mark.parametrize("doc", ["README.md", "docs/architecture.md"])
def test_every_path_a_doc_names_exists(doc):
    text = (ROOT / doc).read_text(encoding="utf-8")
    named = set(PATH.findall(text)) - LOCAL_ONLY
    assert named, "the pattern finds the paths"
    assert sorted(p for p in named if not (ROOT / p).exists()) == []
