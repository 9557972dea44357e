"""Templates with optional segments: a reply reads well with or without the contact's name, the
ticket, the brand or a promised time, and `replyline playbooks check` finds any that do not."""

from __future__ import annotations

import shutil
from datetime import UTC, datetime

import pytest

from bot.cli import main
from bot.crisis.playbook import HoldingStatements
from playbooks.debris import asks_to_go_private, find_debris
from playbooks.engine import DEFAULT_DIR, DraftContext, Playbooks
from playbooks.render import check_segments, fill
from playbooks.yamlfile import PlaybookError
from tests.playbooks.support import LabelClassifier

classify = LabelClassifier().one


def test_an_optional_segment_drops_out_whole_or_falls_back():
    template = "謝謝[[{name}|您]]的支持！歡迎追蹤[[{brand}|我們]][[（案件編號 {ticket}）]]"
    assert fill(template, {"name": "小美", "brand": "小森", "ticket": "CS-1"}) == (
        "謝謝小美的支持！歡迎追蹤小森（案件編號 CS-1）"
    )
    assert fill(template, {"name": "", "brand": "", "ticket": ""}) == "謝謝您的支持！歡迎追蹤我們"
    assert fill("Thank you[[, {name}]]!", {"name": ""}) == "Thank you!"


def test_braces_in_a_customer_name_stay_text():
    assert fill("Hi[[ {name}]]!", {"name": "{brand}"}) == "Hi {brand}!"


@pytest.mark.parametrize(
    "text",
    ["謝謝的支持！", "好開心收到的留言！", "，謝謝您這麼用心的建議！", "Thank you so much,!",
     "Thank you for telling us,, and sorry", "Hi , thanks", "案件編號 ，請私訊", "(case )",
     "歡迎追蹤或加入", "Follow  or add us", "預計  小時內回覆您", "「」"],
)  # fmt: skip
def test_debris_is_recognised(text):
    assert find_debris(text), text


@pytest.mark.parametrize(
    "text",
    ["謝謝您的支持！", "Thank you, Ann! Case CS-1 is open.", "預計 4 小時內回覆您（案件編號 CS-1）。",
     "Hi Ann, we're sorry.", "謝謝您的提案。"],
)  # fmt: skip
def test_clean_replies_are_not_flagged(text):
    assert find_debris(text) == []


def test_the_default_playbooks_render_clean_with_and_without_every_optional_value():
    assert Playbooks.load().check_rendering() == []


def test_a_broken_segment_is_reported_with_its_line(tmp_path):
    (tmp_path / "other.yaml").write_text(
        "type: other\ngoal: {identification: a, relationship: b, collaboration: c}\n"
        "sections:\n  default:\n    templates:\n      zh-Hant: ['哈囉[[{name}！']\n"
        "      en: ['Hi [[there]]!']\n",
        encoding="utf-8",
    )
    with pytest.raises(PlaybookError) as caught:
        Playbooks.load(tmp_path)
    assert ":6:" in str(caught.value) and "[[" in str(caught.value)
    assert check_segments("Hi [[there]]!") and check_segments("Hi [[, {name}]]!") is None


def test_playbooks_check_fails_on_a_template_with_a_hole(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("REPLYLINE_DATABASE_URL", f"sqlite:///{tmp_path / 'r.db'}")
    assert main(["--lang", "en", "playbooks", "check", str(DEFAULT_DIR)]) == 0
    assert "Rendering: 0 templates with debris" in capsys.readouterr().out
    assert main(["playbooks", "check", str(DEFAULT_DIR)]) == 0  # the brand's language
    assert "套版：0 個範本有殘留字元" in capsys.readouterr().out
    brand = tmp_path / "brand"
    shutil.copytree(DEFAULT_DIR, brand)
    (brand / "other.yaml").write_text(
        "type: other\ngoal: {identification: a, relationship: b, collaboration: c}\n"
        "sections:\n  default:\n    templates:\n      zh-Hant: ['謝謝{name}的支持！']\n"
        "      en: ['Thank you so much, {name}!']\n",
        encoding="utf-8",
    )
    assert main(["playbooks", "check", str(brand)]) == 1
    out = capsys.readouterr().out
    assert "other.yaml: sections.default.templates.zh-Hant[0] without name" in out
    assert "other.yaml: sections.default.templates.en[0] without name: double punctuation" in out


def test_a_template_asking_for_a_private_message_needs_a_direct_variant(tmp_path):
    (tmp_path / "other.yaml").write_text(
        "type: other\ngoal: {identification: a, relationship: b, collaboration: c}\n"
        "sections:\n  default:\n    templates:\n      zh-Hant: ['有問題請私訊我們']\n"
        "      en: ['Message us privately']\n",
        encoding="utf-8",
    )
    problems = Playbooks.load(tmp_path).check_rendering()
    assert any("other.yaml: sections.default.templates.en[0]: asks for a private" in p
               for p in problems)  # fmt: skip


@pytest.mark.parametrize("language", ["zh-Hant", "zh-Hans", "en"])
@pytest.mark.parametrize("category", ["default", "safety", "legal", "data_leak"])
def test_crisis_holding_statements_never_ask_for_a_private_message_in_a_private_chat(
    category, language
):
    holding = HoldingStatements.load()
    for direct in (True, False):
        for name in ("", "小美"):
            for brand in ("", "小森生活"):
                drafts = holding.drafts(category, language, name, brand, direct=direct)
                assert drafts
                for draft in drafts:
                    assert find_debris(draft.text) == [], draft.text
                    if direct:
                        assert not asks_to_go_private(draft.text), draft.text


def test_a_promise_already_made_is_not_repeated_in_the_drafts():
    books = Playbooks.load()
    base = DraftContext(classify("question: 你們的老闆是誰"), "identification", "", "小森生活",
                        "web", "你們的老闆是誰", chat_kind="direct",
                        at=datetime(2026, 11, 24, 3, tzinfo=UTC))  # fmt: skip
    first = [c.text for c in books.draft(base)]
    assert all("4 小時" in t for t in first), first
    again = [c.text for c in books.draft(DraftContext(**{**base.__dict__, "promised": True}))]
    assert again and all("小時" not in t and not find_debris(t) for t in again), again
