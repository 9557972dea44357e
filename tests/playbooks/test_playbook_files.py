"""A brand's playbook folder: what it may override, and how a broken file is reported (the
file, the line and what is wrong) before replyline starts."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from playbooks.engine import DEFAULT_DIR, DraftContext, Playbooks
from playbooks.yamlfile import PlaybookError
from tests.playbooks.support import LabelClassifier

ROOT = Path(__file__).resolve().parents[2]


def folder(tmp_path, **files) -> Path:
    for name, text in files.items():
        (tmp_path / f"{name}.yaml").write_text(text, encoding="utf-8")
    return tmp_path


def broken(tmp_path, name, text) -> PlaybookError:
    with pytest.raises(PlaybookError) as caught:
        Playbooks.load(folder(tmp_path, **{name: text}))
    return caught.value


def troll_with(section_lines: str, extra: str = "") -> str:
    return (
        "type: troll\n"
        "goal: {identification: a, relationship: b, collaboration: c}\n"
        f"{extra}"
        "sections:\n"
        "  default:\n"
        "    templates:\n"
        f"{section_lines}"
    )


def test_invalid_yaml_names_the_file_and_line(tmp_path):
    error = broken(tmp_path, "troll", "type: troll\ngoal: [unclosed\nsections: {}\n")
    assert error.path.endswith("troll.yaml") and error.line == 3
    assert "invalid YAML" in str(error) and str(error).startswith(f"{tmp_path}/troll.yaml:3:")


def test_an_unknown_variable_is_reported_on_its_line(tmp_path):
    text = troll_with("      zh-Hant: ['謝謝{name}']\n      en:\n        - 'Hi {nmae}'\n")
    error = broken(tmp_path, "troll", text)
    assert error.line == 8 and "unknown variable {nmae}" in error.problem


@pytest.mark.parametrize(
    ("text", "line", "problem"),
    [
        (
            troll_with("      zh-Hant: [好]\n      en: [ok]\n").replace("troll", "trol", 1),
            1,
            "type must be one of",
        ),
        (
            "type: troll\ngoal: {identification: a}\nsections: {default: {templates: {zh-Hant: [好], en: [ok]}}}\n",
            2,
            "goal needs a line for each stage",
        ),
        (
            troll_with("      zh-Hant: [好]\n      en: [ok]\n", "policy:\n  required_role: boss\n"),
            4,
            "required_role must be one of agent, supervisor, admin",
        ),
        (
            troll_with("      zh-Hant: [好]\n      en: [ok]\n", "policy:\n  auto_send: maybe\n"),
            4,
            "auto_send must be true or false",
        ),
        (
            troll_with("      zh-Hant: [好]\n      en: [ok]\n", "policy:\n  first_response: 5\n"),
            4,
            "unknown key 'first_response'",
        ),
        (troll_with("      zh-Hant: [好]\n"), 6, "needs en templates"),
        (
            troll_with("      zh-Hant: [滾]\n      en: [ok]\n", "avoid: {zh-Hant: [滾]}\n"),
            7,
            "uses '滾', which 'avoid' forbids",
        ),
        (
            troll_with("      zh-Hant: ['好 {ticket}']\n      en: [ok]\n"),
            4,
            "{ticket} needs policy.opens_ticket: true",
        ),
        (
            troll_with("      zh-Hant: [好]\n      en: [ok]\n").replace("default:", "angry:"),
            4,
            "troll has no section 'angry'",
        ),
        (
            troll_with("      zh-Hant: [好]\n      zh-Hant: [又一次]\n      en: [ok]\n"),
            7,
            "duplicate key 'zh-Hant'",
        ),
        (
            troll_with("      zh-Hant: ['好 {faq_answer}']\n      en: [ok]\n"),
            6,
            "{faq_answer} needs 'needs: faq'",
        ),
    ],
)
def test_playbook_mistakes_are_reported_with_file_line_and_problem(tmp_path, text, line, problem):
    error = broken(tmp_path, "troll", text)
    assert error.path.endswith("troll.yaml")
    assert error.line == line, str(error)
    assert problem in error.problem, str(error)


@pytest.mark.parametrize(
    ("text", "line", "problem"),
    [
        ("hours:\n  mon-fri: '9-18'\n", 2, "is not a time range"),
        ("hours:\n  mon-fry: '09:00-18:00'\n", 2, "is not a day"),
        ("hours:\n  mon-fri: '09:00-18:00'\n  fri: '10:00-12:00'\n", 3, "repeats a day"),
        ("timezone: Mars/Olympus\n", 1, "not a known timezone"),
        ("holidays:\n  - tomorrow\n", 2, "each holiday is a date"),
        ("formality: rude\n", 1, "formality must be one of formal, polite, casual"),
        ("faq:\n  answer_at: 2\n", 2, "answer_at must be a number from 0 to 1"),
        ("colour: blue\n", 1, "unknown key 'colour'"),
    ],
)
def test_brand_file_mistakes_are_reported_with_the_line(tmp_path, text, line, problem):
    error = broken(tmp_path, "brand", text)
    assert error.path.endswith("brand.yaml") and error.line == line, str(error)
    assert problem in error.problem, str(error)


def test_faq_mistakes_are_reported_with_the_line(tmp_path):
    text = (
        "entries:\n"
        "  - id: hours\n    question: {zh-Hant: 幾點開, en: When}\n    answer: {zh-Hant: 九點, en: nine}\n"
        "  - id: hours\n    question: {zh-Hant: 幾點關, en: Close}\n    answer: {zh-Hant: 六點, en: six}\n"
    )
    error = broken(tmp_path, "faq", text)
    assert error.line == 5 and "faq id 'hours' is already used on line 2" in error.problem


def test_a_brand_folder_overrides_only_what_it_has(tmp_path):
    shutil.copy(DEFAULT_DIR / "complaint.yaml", tmp_path / "complaint.yaml")
    folder(
        tmp_path,
        brand=(
            "name: {zh-Hant: 小森生活, en: Komori Living}\n"
            "sign_off: {zh-Hant: '— 小森生活客服', en: '— the Komori Living team'}\n"
            "formality: casual\nemoji: none\nticket_prefix: KL\n"
        ),
    )
    books = Playbooks.load(tmp_path)
    assert books.by_type["complaint"].source.startswith(str(tmp_path))
    assert books.by_type["troll"].source.startswith(str(DEFAULT_DIR))  # from the defaults
    text = LabelClassifier().one("advocate: 你們的果醬太好吃了")
    ctx = DraftContext(text, "identification", "小美", "ignored", "web", "…")
    reply = books.draft(ctx)[0].text
    assert "小森生活" in reply and reply.endswith("— 小森生活客服")
    assert "您" not in reply  # casual: 你
    assert "💛" not in reply and "😊" not in reply  # no emoji
    english = books.draft(
        DraftContext(
            LabelClassifier().one("advocate: love it"),
            "identification",
            "May",
            "x",
            "web",
            "love it",
        )
    )[0].text
    assert "Komori Living" in english and english.endswith("— the Komori Living team")


def test_formal_english_spells_contractions_out(tmp_path):
    folder(tmp_path, brand="formality: formal\n")
    books = Playbooks.load(tmp_path)
    ctx = DraftContext(LabelClassifier().one("complaint: it broke"), "identification", "Ann",
                       "Shop", "web", "it broke", ticket="CS-1")  # fmt: skip
    text = books.draft(ctx)[0].text
    assert "we are sorry" in text and "we're" not in text


def test_replyline_refuses_to_start_with_a_broken_playbook(tmp_path):
    (tmp_path / "pb").mkdir()
    (tmp_path / "pb" / "question.yaml").write_text("type: question\ngoal: [\n", encoding="utf-8")
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("REPLYLINE_")},
        "PYTHONPATH": str(ROOT),
        "REPLYLINE_PLAYBOOK_DIR": str(tmp_path / "pb"),
        "REPLYLINE_DATABASE_URL": f"sqlite:///{tmp_path / 'r.db'}",
        "REPLYLINE_PORT": "1",
    }
    done = subprocess.run([sys.executable, "-m", "bot", "serve"], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=120)  # fmt: skip
    assert done.returncode == 2
    assert f"replyline: {tmp_path / 'pb' / 'question.yaml'}:3: invalid YAML" in done.stderr
    assert "Traceback" not in done.stderr
