"""The page checks' own rules (the browser tests rely on them to find untranslated words and
UTC times), on known good and bad texts."""

from tests.browser.words import time_leaks, untranslated


def test_english_left_on_a_chinese_page_is_found_and_names_are_allowed():
    texts = ["審核佇列", "Review queue", "LINE · Telegram", "匯出 CSV", "3 waiting"]
    assert untranslated(texts, "zh") == ["Review", "queue", "waiting"]


def test_chinese_left_on_an_english_page_is_found_and_the_language_switch_is_allowed():
    texts = ["Review queue", "繁體中文", "登出", "Approve 核准"]
    assert untranslated(texts, "en") == ["登出", "核准"]


def test_utc_and_machine_stamps_are_time_leaks_and_local_times_are_not():
    texts = ["opened 2026-12-05T13:08:47.193885+00:00", "asked at 13:10 UTC", "21:08",
             "12月6日 21:08（台北時間）", "2026-12-05 21:08:47", "Times are Taiwan Time (UTC+8)."]  # fmt: skip
    assert time_leaks(texts) == texts[:2]
