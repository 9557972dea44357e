"""Drafts that reflect the message: they name the order, branch, product, place or day the
customer named and, for praise, what was praised; complaints restate the problem neutrally.
Only spans of the message (or a fixed neutral restatement) ever appear."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from playbooks.debris import find_debris
from playbooks.engine import DraftContext, Playbooks
from playbooks.extract import Vocabulary, extract
from tests.playbooks.support import LabelClassifier

classify = LabelClassifier().one
VOCABULARY = Vocabulary.load()


@pytest.mark.parametrize(
    ("text", "language", "expected"),
    [
        ("上週五訂的咖啡豆到現在還沒到貨，訂單編號 A20231120，可以幫我查一下嗎？", "zh-Hant",
         {"order": "A20231120", "product": "咖啡豆", "when": "上週五", "problem": "訂單還沒收到"}),
        ("订单 20261130-88 显示已签收但我没收到", "zh-Hans",
         {"order": "20261130-88", "problem": "订单还没收到"}),
        ("Order #A20931 still hasn't arrived after 8 days", "en",
         {"order": "A20931", "problem": "your order hasn't arrived yet"}),
        ("The lemon tart at your Xinyi branch is the best I've had!", "en",
         {"branch": "Xinyi", "product": "lemon tart", "praised": "the lemon tart"}),
        ("昨天在台中店買的麵包有頭髮", "zh-Hant", {"branch": "台中店", "when": "昨天", "product": "麵包"}),
        ("请问你们的外卖可以送到信义区吗？", "zh-Hans", {"place": "信义区"}),
        ("昨天的拿鐵超好喝！店員也好親切", "zh-Hant", {"praised": "店員的服務", "product": "拿鐵", "when": "昨天"}),
        ("good morning there", "en", {}),
    ],
)  # fmt: skip
def test_the_extractor_finds_what_the_customer_named(text, language, expected):
    found = extract(text, language, VOCABULARY).values()
    for key, value in found.items():
        assert value == expected.get(key, value if key in ("praised", "problem") else ""), key
    for key in ("order", "branch", "product", "place", "when"):
        assert found[key] in text  # a span of the message, never made up


def draft(text, language_text, stage="identification", kind="group"):
    books = Playbooks.load()
    ctx = DraftContext(classify(text), stage, "", "小森生活", "web",
                       language_text, chat_kind=kind, ticket="CS-00042",
                       at=datetime(2026, 11, 24, 3, tzinfo=UTC))  # fmt: skip
    return [c.text for c in books.draft(ctx)]


def test_praise_drafts_say_what_was_praised():
    texts = draft("advocate: 你們的檸檬塔超好吃", "你們的檸檬塔超好吃")
    assert any("檸檬塔" in t for t in texts), texts
    texts = draft("advocate: The lemon tart is the best!", "The lemon tart is the best!")
    assert any("the lemon tart" in t for t in texts), texts


def test_complaint_drafts_restate_the_problem_and_name_the_order():
    body = "上週五訂的咖啡豆到現在還沒到貨，訂單編號 A20231120"
    texts = draft(f"complaint: {body}", body, kind="direct")
    assert "關於訂單還沒收到" in texts[0] and "A20231120" in texts[0], texts
    public = draft(f"complaint: {body}", body)  # order details stay out of public threads
    assert "關於訂單還沒收到" in public[0] and "A20231120" not in public[0], public
    body = "Order #A20931 still hasn't arrived after 8 days"
    texts = draft(f"complaint: {body}", body, kind="direct")
    assert "sorry to hear your order hasn't arrived yet" in texts[0] and "A20931" in texts[0]
    assert all(not find_debris(t) for t in texts), texts


def test_nothing_named_means_nothing_quoted():
    texts = draft("complaint: 很失望", "很失望")
    assert "關於" not in texts[0] and "訂單 " not in texts[0] and not find_debris(texts[0])


def test_a_brand_names_its_own_products(tmp_path):
    (tmp_path / "mentions.yaml").write_text("products: [鳳梨酥]\n", encoding="utf-8")
    books = Playbooks.load(tmp_path)
    assert extract("鳳梨酥好好吃", "zh-Hant", books.mentions).product == "鳳梨酥"
    assert extract("檸檬塔好好吃", "zh-Hant", books.mentions).product == ""
