"""The i18n core: negotiation, catalogues, labels and brand-zone times, outside any request."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from bot import i18n
from bot.i18n import catalog
from bot.i18n.extract import extract, missing
from bot.i18n.locale import parse_accept_language
from db.enums import DraftStatus, IncidentStatus, PostRunStatus, PostStatus

MOMENT = datetime(2026, 12, 6, 13, 8, 47, tzinfo=UTC)  # 21:08 in Taipei


@pytest.fixture(autouse=True)
def brand_defaults():
    i18n.configure("zh_Hant_TW", "Asia/Taipei")
    yield
    i18n.configure("zh_Hant_TW", "Asia/Taipei")


def test_the_users_setting_then_the_browser_then_the_brand_default():
    assert i18n.negotiate("en", "zh-TW,zh;q=0.9") == "en"
    assert i18n.negotiate(None, "fr-FR, en;q=0.5, zh-TW;q=0.7") == "zh_Hant_TW"
    assert i18n.negotiate(None, "ja, en-GB;q=0.8") == "en"
    assert i18n.negotiate("klingon", "de") == "zh_Hant_TW"
    i18n.configure("en")
    assert i18n.negotiate(None, None) == "en"


@pytest.mark.parametrize("tag", ["zh", "zh-TW", "zh-Hant", "zh-HK", "zh_Hant_TW", "zh-CN"])
def test_every_chinese_tag_reads_traditional_chinese(tag):
    assert i18n.supported(tag) == "zh_Hant_TW"


def test_accept_language_is_ranked_by_quality_and_refusals_dropped():
    assert parse_accept_language("en;q=0.2, zh-TW, fr;q=0, ja;q=0.5") == ["zh-TW", "ja", "en"]
    assert parse_accept_language("en;q=oops, *") == []


def test_texts_follow_the_current_locale_and_fall_back_to_english():
    with i18n.use_locale("zh_Hant_TW"):
        assert i18n.gettext("Log out") == "登出"
        assert i18n.gettext("A text nobody translated") == "A text nobody translated"
        with i18n.use_locale("en"):
            assert i18n.gettext("Log out") == "Log out"
        assert i18n.gettext("Log out") == "登出"
    lazy = i18n.lazy_gettext("Log out")
    with i18n.use_locale("en"):
        assert str(lazy) == "Log out"
    with i18n.use_locale("zh_Hant_TW"):
        assert str(lazy) == "登出"


def test_stage_and_type_names_are_plain_words_in_both_languages():
    with i18n.use_locale("zh_Hant_TW"):
        assert [
            i18n.stage_label(s) for s in ("identification", "relationship", "collaboration")
        ] == [
            "新朋友",
            "熟客",
            "夥伴",
        ]
        assert i18n.type_label("advocate") == "支持者"
        assert i18n.role_label("supervisor") == "主管"
    with i18n.use_locale("en"):
        assert i18n.stage_label("identification") == "New contact"
        assert i18n.type_label("advocate") == "Fan"
    assert i18n.stage_label("something new") == "something new"  # shown rather than hidden


def test_a_drafts_playbook_key_is_shown_in_words():
    """The queue names where a draft came from in the reader's language, not as the playbook
    key ("complaint/angry") a Chinese-reading team would have to decode."""
    from bot.i18n.labels import draft_source_label as label

    with i18n.use_locale("zh_Hant_TW"):
        assert [label(k) for k in ("complaint/angry", "question/answer", "crisis/safety",
                                   "manual/write")] == ["客訴 · 生氣", "提問", "危機暫時回應聲明",
                                                        "自己寫回覆"]  # fmt: skip
    with i18n.use_locale("en"):
        assert label("complaint/angry") == "Complaint · Angry"
        assert label("complaint/angry@relationship") == "Complaint · Angry · Regular"
        assert label("complaint/relationship") == "Complaint · Regular"
    assert label("brand/own") == "brand/own"  # a brand's own playbook: shown as it is


def test_times_are_in_the_brand_zone_on_a_24_hour_clock():
    with i18n.use_locale("zh_Hant_TW"):
        assert i18n.clock(MOMENT) == "21:08"
        assert i18n.localtime(MOMENT) == "2026年12月6日 21:08"
        assert i18n.localdate(date(2026, 12, 6)) == "2026年12月6日"
        assert i18n.clock(MOMENT.replace(tzinfo=None)) == "21:08"  # naive: stored UTC
        assert i18n.clock(MOMENT.isoformat()) == "21:08"
        assert i18n.zone_label(MOMENT) == "台北時間（UTC+8）"
    with i18n.use_locale("en"):
        assert i18n.localtime(MOMENT) == "Dec 6, 2026 21:08"
        assert i18n.localtime(datetime(2026, 12, 6, 16, 30, tzinfo=UTC)) == "Dec 7, 2026 00:30"
    with i18n.use_locale("en", zone="Europe/London"):
        assert i18n.clock(MOMENT) == "13:08"
    assert i18n.localtime(None) == ""


def test_relative_times_read_as_people_say_them():
    later = MOMENT + timedelta(minutes=5)
    with i18n.use_locale("zh_Hant_TW"):
        assert i18n.ago(MOMENT, now=later) == "5 分鐘前"
        assert i18n.ago(MOMENT, now=MOMENT + timedelta(seconds=10)) == "剛剛"
    with i18n.use_locale("en"):
        assert i18n.ago(MOMENT, now=later) == "5 minutes ago"
        assert i18n.ago(later, now=MOMENT) == "in 5 minutes"


def test_every_po_file_of_a_locale_is_read(tmp_path, monkeypatch):
    """Each area may keep its own catalogue file (staff.po, ...) next to messages.po."""
    folder = tmp_path / "zh_Hant_TW" / "LC_MESSAGES"
    folder.mkdir(parents=True)
    for name, msgid, text in (("messages", "Log out", "登出"), ("staff", "Approve", "核准")):
        (folder / f"{name}.po").write_text(
            f'msgid ""\nmsgstr "Content-Type: text/plain; charset=utf-8\\n"\n\n'
            f'msgid "{msgid}"\nmsgstr "{text}"\n',
            encoding="utf-8",
        )
    monkeypatch.setattr(catalog, "LOCALE_DIR", tmp_path)
    catalog.translations.cache_clear()
    try:
        with i18n.use_locale("zh_Hant_TW"):
            assert (i18n.gettext("Log out"), i18n.gettext("Approve")) == ("登出", "核准")
    finally:
        catalog.translations.cache_clear()


def test_every_text_used_in_code_and_templates_has_a_chinese_translation():
    """`python -m bot.i18n.extract` adds new texts to messages.po; translate them there."""
    template = extract()
    assert len(template) > 20  # the extraction sees the templates and the code
    assert missing("zh_Hant_TW", template) == []


def test_every_draft_incident_and_post_status_has_words_in_both_languages():
    """One table per kind of status (bot/i18n/labels.py) serves the console, the command line
    and the report; none shows its stored code."""
    tables = [
        (i18n.draft_status_label, DraftStatus),
        (i18n.incident_status_label, IncidentStatus),
        (i18n.post_status_label, PostStatus),
        (i18n.post_status_label, PostRunStatus),
    ]
    for locale in ("zh_Hant_TW", "en"):
        with i18n.use_locale(locale):
            for label, statuses in tables:
                for status in statuses:
                    words = label(status)
                    assert words, status
                    if locale == "zh_Hant_TW":
                        assert not any("a" <= c.lower() <= "z" for c in words), (status, words)
    with i18n.use_locale("zh_Hant_TW"):
        assert i18n.draft_status_label(DraftStatus.WITHDRAWN) == "已撤回"
    with i18n.use_locale("en"):
        assert i18n.draft_status_label("superseded") == "replaced"
        assert i18n.post_status_label("planned") == "needs approval"
