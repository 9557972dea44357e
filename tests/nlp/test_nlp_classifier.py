"""The shipped classifier: well-formed results and sensible decisions on sentences it never saw."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from nlp import dataset
from nlp.types import COMMENTER_TYPES, COMPLAINT_SUBTYPES, LANGUAGES, Classification

ROOT = Path(__file__).resolve().parents[2]

# Written for these tests; none of them is in nlp/data (checked below).
UNSEEN = {
    "troll": {
        "zh-Hant": [
            "你們這種爛公司的員工是不是都沒讀書啊，笑死",
            "小編智商跟你們產品一樣低吧",
            "一群廢物，整天只會發廢文騙讚",
        ],
        "zh-Hans": [
            "你们这破公司的人脑子都有病吧，笑死",
            "小编智商跟你们产品一样低吧",
            "一群废物，天天只会发广告骗人",
        ],
        "en": [
            "your whole team is a bunch of brainless clowns lol",
            "imagine paying for this trash, what a joke of a company",
            "shut up and go bankrupt already, losers",
        ],
    },
    "complaint": {
        "zh-Hant": [
            "我兩週前下的訂單到現在還沒出貨，客服也完全不回，請盡快處理",
            "昨天買的麵包裡面有頭髮，真的很噁心，我要退錢",
            "手機才買一個月就不能充電，送修還要等三週，很失望",
        ],
        "zh-Hans": [
            "两周前下的单到现在还没发货，客服也不回，请尽快处理",
            "昨天买的面包里面有头发，太恶心了，我要退款",
            "手机才买一个月就充不了电，维修还要等三周，很失望",
        ],
        "en": [
            "I ordered two weeks ago and it still hasn't shipped, and support won't answer. "
            "Please sort this out.",
            "There was a hair in the bread I bought yesterday. Disgusting. I want my money back.",
            "My phone stopped charging after one month and repair takes three weeks. "
            "Very disappointed.",
        ],
    },
    "advocate": {
        "zh-Hant": [
            "今天去門市，店員超親切又專業，大推這家",
            "謝謝你們的客服很快幫我解決問題，服務真的很棒",
            "品質真的沒話說，已經推薦給身邊所有朋友了",
        ],
        "zh-Hans": [
            "今天去门店，店员超级热情又专业，强烈推荐",
            "谢谢你们客服很快帮我解决问题，服务真的很棒",
            "质量真的没话说，已经推荐给身边所有朋友了",
        ],
        "en": [
            "The staff at your store today were so kind and helpful, highly recommend!",
            "Two years in and it still works perfectly, amazing quality, will buy again.",
            "Thanks to your support team for fixing my issue so quickly, great service.",
        ],
    },
    "question": {
        "zh-Hant": [
            "請問你們星期天幾點開門？",
            "這款外套還有L號嗎？什麼時候補貨？",
            "請問寄到台南運費多少？",
        ],
        "zh-Hans": [
            "请问你们星期天几点开门？",
            "这款外套还有L码吗？什么时候补货？",
            "请问寄到广州运费多少？",
        ],
        "en": [
            "What time do you open on Sunday?",
            "Do you still have this jacket in size L? When will it be restocked?",
            "How much is shipping to Texas?",
        ],
    },
    "other": {
        "zh-Hant": ["早安大家，今天天氣真好", "@小美 快來看這個", "今天好冷，好想吃火鍋"],
        "zh-Hans": ["大家早上好，今天天气真好", "@小美 快来看这个", "今天好冷，好想吃火锅"],
        "en": ["good morning everyone, lovely weather today", "@sarah look at this", "hahahaha"],
    },
}


def _all_unseen():
    for typ, by_lang in UNSEEN.items():
        for lang, texts in by_lang.items():
            for text in texts:
                yield typ, lang, text


def test_unseen_sentences_really_are_unseen():
    seen = {dataset.normalise(r["text"]) for r in dataset.load_labelled(strict=False)}
    leaked = [t for _, _, t in _all_unseen() if dataset.normalise(t) in seen]
    assert not leaked


def test_sensible_types_on_unseen_sentences(classifier):
    cases = list(_all_unseen())
    results = classifier.classify([t for _, _, t in cases])
    wrong = [
        (typ, res.type, text)
        for (typ, _, text), res in zip(cases, results, strict=True)
        if res.type != typ
    ]
    # 45 sentences: allow at most two mistakes overall, and none twice for one type
    assert len(wrong) <= 2, wrong
    per_type = {t: sum(1 for w in wrong if w[0] == t) for t in COMMENTER_TYPES}
    assert max(per_type.values()) <= 1, wrong
    # and every language gets its own sentences right
    for lang in ("zh-Hant", "zh-Hans", "en"):
        lang_wrong = [
            text
            for (typ, la, text), res in zip(cases, results, strict=True)
            if la == lang and res.type != typ
        ]
        assert len(lang_wrong) <= 1, (lang, lang_wrong)


def test_languages_of_unseen_sentences(classifier):
    cases = list(_all_unseen())
    results = classifier.classify([t for _, _, t in cases])
    for (_, lang, text), res in zip(cases, results, strict=True):
        assert res.language == lang, text


def test_results_are_well_formed(classifier):
    texts = [t for _, _, t in _all_unseen()][:12] + ["", "   ", "👍👍", "[貼圖]", "ok"]
    results = classifier.classify(texts)
    assert len(results) == len(texts)
    for res in results:
        assert isinstance(res, Classification)
        assert res.type in COMMENTER_TYPES
        assert set(res.scores) == set(COMMENTER_TYPES)
        assert sum(res.scores.values()) == pytest.approx(1.0, abs=1e-4)
        assert all(0.0 <= p <= 1.0 for p in res.scores.values())
        assert res.confidence == pytest.approx(max(res.scores.values()), abs=1e-5)
        assert res.scores[res.type] == max(res.scores.values())
        assert -1.0 <= res.sentiment <= 1.0
        assert res.language in LANGUAGES
        assert isinstance(res.suggestion, bool)
        assert res.subtype is None or (
            res.type == "complaint" and res.subtype in COMPLAINT_SUBTYPES
        )
        assert res.low_confidence == (res.confidence < classifier.low_confidence)
        assert res.model
        res.to_dict()  # serialisable


def test_complaints_get_a_subtype_and_others_do_not(classifier):
    results = classifier.classify(
        [
            "I ordered two weeks ago and it still hasn't shipped, and support won't answer.",
            "請問你們星期天幾點開門？",
        ]
    )
    assert results[0].type == "complaint" and results[0].subtype in COMPLAINT_SUBTYPES
    assert results[1].subtype is None


def test_misled_complaints(classifier):
    texts = [
        "聽說你們的優惠券可以跟會員折扣一起用，結果結帳不行，這樣算詐騙吧",
        "I heard you stopped offering free returns, so I am stuck with this jacket? Not okay.",
    ]
    for res in classifier.classify(texts):
        assert (res.type, res.subtype) == ("complaint", "misled")


def test_sentiment_has_the_right_sign(classifier):
    praise = UNSEEN["advocate"]["zh-Hant"][:1] + UNSEEN["advocate"]["en"][:1]
    anger = UNSEEN["complaint"]["zh-Hans"][:1] + UNSEEN["troll"]["en"][:1]
    neutral = UNSEEN["question"]["en"][:1] + UNSEEN["question"]["zh-Hant"][:1]
    for res in classifier.classify(praise):
        assert res.sentiment > 0.3
    for res in classifier.classify(anger):
        assert res.sentiment < -0.3
    for res in classifier.classify(neutral):
        assert abs(res.sentiment) < 0.3


def test_suggestion_flag(classifier):
    yes = [
        "建議你們可以在App加入預約功能，這樣就不用排隊了",
        "建议你们可以出个小包装，一个人吃不完",
        "It would be great if you offered a vegan option on the menu.",
        "I run a local bakery and would love to collaborate on a holiday box with you!",
    ]
    no = ["What time do you open?", "請問有停車場嗎", "謝謝你們的服務", "垃圾公司"]
    assert [r.suggestion for r in classifier.classify(yes)] == [True] * len(yes)
    assert [r.suggestion for r in classifier.classify(no)] == [False] * len(no)


@pytest.mark.parametrize("text", ["", "   ", "\n\t", "👍", "😂😂😂", "[貼圖]", "[sticker]", "???"])
def test_empty_and_sticker_like_text_is_other(classifier, text):
    (res,) = classifier.classify([text])
    assert res.type == "other" and res.confidence == 1.0 and not res.low_confidence
    assert res.sentiment == 0.0 and res.subtype is None and res.suggestion is False
    assert res.extra.get("rule") == "no_text"


def test_batch_equals_single(classifier):
    texts = [t for _, _, t in _all_unseen()][::5]
    batch = classifier.classify(texts)
    for text, res in zip(texts, batch, strict=True):
        (one,) = classifier.classify([text])
        assert one.type == res.type
        assert one.confidence == pytest.approx(res.confidence, abs=1e-3)


def test_broken_and_huge_input_does_not_crash(classifier):
    texts = ["bad \ud800 surrogate", "nul\x00byte", "請問" * 3000, "a" * 20000, None]
    results = classifier.classify(texts)
    assert len(results) == len(texts)
    assert results[-1].type == "other"


def test_empty_input_list(classifier):
    assert classifier.classify([]) == []


def test_load_classifier_is_cached(classifier, model_dir):
    from nlp.classifier import load_classifier

    assert load_classifier(model_dir=str(model_dir)) is classifier


HEAVY = ("torch", "transformers", "sentencepiece", "onnxruntime", "onnx")


def test_heavy_modules_are_imported_lazily():
    code = (
        "import sys, nlp.classifier, nlp.encoder, nlp.cli, nlp.train, nlp.feedback\n"
        "import nlp.onnx_encoder, nlp.onnx_export, bot.cli\n"
        "try:\n"
        "    bot.cli.main(['--help'])\n"
        "except SystemExit:\n"
        "    pass\n"
        "try:\n"
        "    bot.cli.main(['classify', '--help'])\n"
        "except SystemExit:\n"
        "    pass\n"
        f"heavy = [m for m in {HEAVY!r} if m in sys.modules]\n"
        "assert not heavy, heavy\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"},
    )
    assert proc.returncode == 0, proc.stderr


def test_the_sentence_embedding_is_the_plain_query_embedding_crisis_detection_uses(
    classifier, encoder
):
    texts = ["  我要找記者爆料  ", "What time do you open on Sunday?", "👍"]
    results = classifier.classify(texts)
    plain = encoder.embed([t.strip() for t in texts[:2]], prefix="query: ")
    for res, vector in zip(results[:2], plain, strict=True):
        assert res.embedding_model == encoder.name and res.embedding.shape == (encoder.dim,)
        np.testing.assert_allclose(res.embedding, vector, atol=2e-4)
    assert results[2].embedding is None  # nothing to understand: never embedded
    assert "embedding" not in results[0].to_dict()
