"""Short follow-ups are read with the turn they continue; full messages are read alone."""

from __future__ import annotations

import pytest

from nlp.context import is_follow_up, takes_contexts, with_context


@pytest.mark.parametrize(
    "text",
    ["那超商取貨付款呢？", "那么寄到香港呢", "還有週末呢?", "and for Japan?", "What about Japan?"],
)
def test_follow_ups(text):
    assert is_follow_up(text)


@pytest.mark.parametrize(
    "text",
    [
        "請問運費怎麼算？",
        "謝謝你們的幫忙",
        "那家店的服務真的很糟糕，我等了一個多小時都沒有人理我，到底要怎樣才能退款",
        "Thanks a lot!",
        "and another thing, your courier threw my parcel over the fence and it broke in half",
        "",
    ],
)
def test_not_follow_ups(text):
    assert not is_follow_up(text)


def test_context_is_only_added_to_follow_ups():
    turns = ["請問運費怎麼算？", "滿 999 免運，未滿 80 元。"]
    assert with_context("那超商取貨付款呢？", turns) == " ".join(turns) + " 那超商取貨付款呢？"
    assert with_context("謝謝你們的幫忙", turns) == "謝謝你們的幫忙"
    assert with_context("那超商取貨付款呢？", []) == "那超商取貨付款呢？"
    assert with_context("and for Japan?", None) == "and for Japan?"


def test_only_classifiers_that_accept_contexts_are_given_them(classifier):
    class Plain:
        def classify(self, texts):
            return texts

    assert takes_contexts(classifier)
    assert not takes_contexts(Plain())


def test_a_follow_up_after_a_shipping_question_is_a_question(classifier):
    follow_up = "那超商取貨付款呢？"
    result = classifier.classify([follow_up], contexts=[["請問運費怎麼算？"]])[0]
    assert result.type == "question", result.scores
    assert result.extra.get("read_with_context") is True
    assert result.language == "zh-Hant"
    english = classifier.classify(
        ["and for Japan?"], contexts=[["How much is shipping to Korea?"]]
    )[0]
    assert english.type == "question", english.scores


def test_contexts_must_line_up_with_texts(classifier):
    with pytest.raises(ValueError, match="one entry per text"):
        classifier.classify(["a", "b"], contexts=[["x"]])
