"""Language detection: zh-Hant vs zh-Hans by one-script characters, English, other."""

from __future__ import annotations

import pytest

from nlp.language import chinese_script, detect_language, script_counts


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("請問你們週末有營業嗎？", "zh-Hant"),
        ("這個產品真的很爛", "zh-Hant"),
        ("謝謝", "zh-Hant"),
        ("颱風天還要送貨，辛苦了", "zh-Hant"),
        ("ㄅㄆㄇ", "zh-Hant"),
        ("真的很ㄎㄧㄤ", "zh-Hant"),
        ("请问你们周末营业吗？", "zh-Hans"),
        ("这个产品真的很烂", "zh-Hans"),
        ("谢谢", "zh-Hans"),
        ("发货太慢了，差评", "zh-Hans"),
        # shared characters only: valid Traditional, and replyline is Taiwan-first
        ("好的", "zh-Hant"),
        ("你好", "zh-Hant"),
        # mixed: Chinese dominates
        ("這個app很爛", "zh-Hant"),
        ("这个app很烂", "zh-Hans"),
        ("iPhone 15 還有貨嗎", "zh-Hant"),
        # mixed: English dominates
        ("when will my 訂單 arrive", "en"),
        ("Your customer service is terrible", "en"),
        ("ok", "en"),
        ("thx!!", "en"),
        ("Hola, ¿cómo estás? Quiero saber el precio", "other"),
        ("Terima kasih banyak, saya suka produk ini", "other"),
        ("Das ist nicht gut", "other"),
        ("Cảm ơn bạn rất nhiều", "other"),
        ("こんにちは、営業時間を教えてください", "other"),
        ("안녕하세요 주문 확인 부탁드립니다", "other"),
        ("Привет, как дела", "other"),
        ("😀😀", "other"),
        ("", "other"),
        ("   ", "other"),
        ("12345", "other"),
    ],
)
def test_detect_language(text, expected):
    assert detect_language(text) == expected


def test_one_tell_tale_character_decides_the_script():
    # 們 exists only in Traditional, 们 only in Simplified; the rest is shared
    assert detect_language("我們好") == "zh-Hant"
    assert detect_language("我们好") == "zh-Hans"
    # counting: more Simplified-only than Traditional-only characters wins
    assert chinese_script("这个说们門") == "zh-Hans"
    assert chinese_script("這個說們门") == "zh-Hant"


def test_script_counts():
    c = script_counts("這是abc这")
    assert c["han"] == 3 and c["hant"] == 1 and c["hans"] == 1 and c["latin"] == 3


def test_fullwidth_text_is_normalised():
    assert detect_language("Ｔｈａｎｋ ｙｏｕ ｆｏｒ ｔｈｅ ｆａｓｔ ｄｅｌｉｖｅｒｙ") == "en"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("請問運費怎麼算？<img src=x onerror=alert(1)>", "zh-Hant"),
        ("请问运费怎么算？ https://shop.example.com/product/12345?ref=share&utm=abc", "zh-Hans"),
        ('運費？ <a href="https://shop.example.com/p/1" class="link">連結</a>', "zh-Hant"),
        ("@brand_support @another_account 好的謝謝", "zh-Hant"),
        ("謝謝，資料請寄到 someone.name@example.com", "zh-Hant"),
        ("<b>where is my order</b> #help", "en"),
    ],
)
def test_markup_urls_and_mentions_do_not_decide_the_language(text, expected):
    assert detect_language(text) == expected
