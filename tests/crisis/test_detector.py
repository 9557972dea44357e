"""The detector's signals on a simulated clock: volume spikes judged against the brand's own
normal, negative-share jumps, single severe messages and same-story clusters."""

from __future__ import annotations

from datetime import timedelta

import numpy as np
import pytest

from bot.crisis.detector import Detector, DetectorConfig
from bot.crisis.lexicon import Lexicon
from tests.crisis.conftest import MONDAY, history, obs

WEEKS = 3
NOW = MONDAY + timedelta(weeks=WEEKS, days=1, hours=6)  # a Tuesday, 14:00 in Taipei


def detector_with(per_hour: dict[str, float], lexicon: Lexicon | None = None) -> Detector:
    detector = Detector(DetectorConfig(), lexicon)
    past = history(MONDAY, WEEKS * 7 + 1, per_hour)
    past = [o for o in past if o.at < NOW - timedelta(hours=1)]
    detector.learn(past, now=NOW - timedelta(hours=1), since=MONDAY)
    return detector


def replay(detector: Detector, messages, until: timedelta, step=timedelta(seconds=10)):
    """Feed messages in time order, evaluating every `step` as the live worker does."""
    signals, pending = [], sorted(messages, key=lambda o: o.at)
    clock = NOW
    while clock < NOW + until:
        clock += step
        while pending and pending[0].at <= clock:
            signals += detector.observe(pending.pop(0))
        signals += [(clock, s) for s in detector.evaluate(clock)]
    return signals


def spread(n: int, minutes: float, kind="complaint", channel="line", start=NOW, first=1, **kw):
    """n messages from n different people, evenly over `minutes`."""
    step = timedelta(minutes=minutes) / max(n - 1, 1)
    return [
        obs(first + i, start + i * step, kind, author=f"p{first + i}", channel=channel, **kw)
        for i in range(n)
    ]


def test_six_complaints_in_ten_minutes_alert_a_quiet_brand_with_counts_against_normal():
    detector = detector_with({"complaint": 0.5, "question": 4})
    fired = replay(detector, spread(6, 8), until=timedelta(minutes=12))
    volume = [s for _, s in fired if s.kind == "volume" and s.figures["metric"] == "complaint"]
    assert volume, "a quiet brand's six complaints in ten minutes is a spike"
    first = volume[0]
    assert first.figures["count"] >= 5 and first.figures["expected"] < 0.5
    assert "complaints from different people on LINE" in first.explanation
    assert "is normal at this hour and weekday" in first.explanation
    assert first.channels == ["line"] and 3 <= first.severity <= 10


def test_sixty_complaints_in_ten_minutes_are_normal_for_a_busy_brand():
    detector = detector_with({"complaint": 300, "question": 300})
    messages = spread(60, 10)
    fired = replay(detector, messages, until=timedelta(minutes=12))
    assert not [s for _, s in fired if s.kind == "volume"]


def test_one_angry_person_writing_ten_times_is_one_voice_not_a_spike():
    detector = detector_with({"complaint": 0.5, "question": 4})
    rants = [obs(i, NOW + timedelta(seconds=30 * i), author="line:angry") for i in range(10)]
    assert not [s for _, s in replay(detector, rants, until=timedelta(minutes=10))]


def test_a_burst_within_one_minute_alone_does_not_alert_but_one_that_goes_on_does():
    detector = detector_with({"complaint": 0.5, "question": 4})
    burst = spread(6, 0.5)  # six people within thirty seconds, then nothing
    assert not [s for _, s in replay(detector, burst, until=timedelta(minutes=10))]

    detector = detector_with({"complaint": 0.5, "question": 4})
    ongoing = spread(8, 4)
    fired = replay(detector, ongoing, until=timedelta(minutes=6))
    times = [t for t, s in fired if s.kind == "volume"]
    assert times
    # the signal must hold for the persistence time before it fires
    held_from = min(o.at for o in ongoing[4:]) if len(ongoing) > 4 else NOW
    assert times[0] - held_from >= DetectorConfig().persist - timedelta(seconds=10)


def test_a_signal_that_keeps_holding_is_repeated_only_every_few_minutes():
    detector = detector_with({"complaint": 0.5, "question": 4})
    fired = replay(detector, spread(30, 20), until=timedelta(minutes=22))
    keys = [(t, s.key) for t, s in fired if s.key.startswith("volume:complaint:line:5")]
    assert keys
    for (t1, k1), (t2, k2) in zip(keys, keys[1:], strict=False):
        assert k1 != k2 or t2 - t1 >= DetectorConfig().refire


def test_the_negative_share_jumping_is_a_signal_on_its_own():
    detector = detector_with({"complaint": 3, "question": 9, "advocate": 3})
    # the usual volume for half an hour, but three in four are negative (usually one in five)
    mixed = spread(24, 28, kind="complaint", first=1) + spread(
        6, 28, kind="question", first=100, start=NOW + timedelta(seconds=20)
    )
    fired = replay(detector, mixed, until=timedelta(minutes=30))
    share = [s for _, s in fired if s.kind == "share"]
    assert share
    assert share[0].figures["normal_share"] < 0.3
    assert (
        "are negative" in share[0].explanation and "is normal at this hour" in share[0].explanation
    )


@pytest.fixture(scope="module")
def lexicon(embed):
    lexicon = Lexicon.load()
    lexicon.prepare(embed)
    return lexicon


@pytest.mark.parametrize(
    ("text", "category"),
    [
        ("你們再不處理，我就提告", "legal"),
        ("我已经向市场监管局举报你们了", "regulator"),
        ("I'm going to sue you for this", "legal"),
        ("我吃了你們的便當食物中毒", "safety"),
        ("你們的個資外洩了嗎？我一直接到詐騙電話", "data_leak"),
        ("店員種族歧視", "discrimination"),
        ("我要找記者爆料", "media"),
    ],
)
def test_a_single_severe_message_alerts_at_once(lexicon, embed, text, category):
    detector = Detector(DetectorConfig(), lexicon)
    signals = detector.observe(obs(1, NOW, "complaint", text=text, vector=embed([text])[0]))
    assert [s.figures["category"] for s in signals] == [category]
    assert signals[0].severity >= 6 and "reads as a" in signals[0].explanation


@pytest.mark.parametrize(
    "text",
    [
        "這件事我們就在法庭上解決，等著賠償吧",  # no listed phrase: a legal threat by meaning
        "吃了你們的沙拉後一家人都腸胃炎",  # no listed phrase: a safety issue by meaning
        "We will settle this in front of a judge",
    ],
)
def test_paraphrases_without_the_listed_words_are_caught_by_meaning(lexicon, embed, text):
    detector = Detector(DetectorConfig(), lexicon)
    signals = detector.observe(obs(1, NOW, "complaint", text=text, vector=embed([text])[0]))
    assert signals and signals[0].figures["prototype"]
    assert "its meaning" in signals[0].explanation


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("請問有過敏原資訊嗎？", "question"),
        ("我們律師事務所想訂二十份午餐", "question"),
        ("訂單還沒到，可以幫我查一下嗎", "complaint"),
        ("店員態度不太好", "complaint"),
    ],
)
def test_everyday_messages_with_or_without_crisis_words_do_not(lexicon, embed, text, kind):
    detector = Detector(DetectorConfig(), lexicon)
    assert not detector.observe(obs(1, NOW, kind, text=text, vector=embed([text])[0]))


def test_a_brand_adds_its_own_phrases_in_its_playbook_folder(tmp_path):
    (tmp_path / "signals.yaml").write_text(
        "categories:\n"
        "  recall:\n"
        "    label: product recall\n"
        "    severity: 8\n"
        "    strong: [下架回收, 召回]\n",
        encoding="utf-8",
    )
    lexicon = Lexicon.load([tmp_path / "signals.yaml"])
    detector = Detector(DetectorConfig(), lexicon)
    signals = detector.observe(obs(1, NOW, "question", text="聽說這批奶茶要下架回收？"))
    assert signals and signals[0].figures["category"] == "recall" and signals[0].severity == 8


ROUTINE = ["訂單還沒到，可以幫我查一下嗎", "等了四十分鐘才拿到餐", "App 一直閃退", "店員態度不太好"]
STORY = [
    "你們的布丁裡面有碎片，差點割到嘴",
    "布丁吃到硬硬的碎片是怎樣",
    "我買的布丁也有碎片",
    "布丁裡面有異物碎片，請給個交代",
    "剛剛在布丁裡發現碎片，好可怕",
    "你們家布丁出現碎片，小孩差點吃下去",
    "同事的布丁也吃到碎片",
]


@pytest.fixture(scope="module")
def vectors(embed):
    texts = ROUTINE + STORY
    return dict(zip(texts, embed(texts), strict=True))


def story_detector(vectors) -> Detector:
    """Three weeks of everyday complaints (each text several times a day), with embeddings."""
    detector = Detector(DetectorConfig())
    past = history(MONDAY, WEEKS * 7 + 1, {"complaint": 2, "question": 6})
    past = [o for o in past if o.at < NOW - timedelta(hours=1)]
    for i, o in enumerate(past):
        if o.type == "complaint":
            o.text = ROUTINE[i % len(ROUTINE)]
            o.vector = vectors[o.text]
    detector.learn(past, now=NOW - timedelta(hours=1), since=MONDAY)
    return detector


def test_many_people_raising_the_same_new_story_is_a_cluster_signal(vectors):
    detector = story_detector(vectors)
    messages = [
        obs(100 + i, NOW + timedelta(minutes=4 * i), "complaint", author=f"s{i}",
            channel=("line", "telegram")[i % 2], text=t, vector=vectors[t])
        for i, t in enumerate(STORY)
    ]  # fmt: skip
    fired = [
        s for _, s in replay(detector, messages, until=timedelta(minutes=30)) if s.kind == "story"
    ]
    assert fired
    story = fired[0]
    assert story.figures["authors"] >= 5 and story.figures["expected"] < 1
    assert set(story.message_ids) <= {m.message_id for m in messages}
    assert story.vector is not None and float(np.linalg.norm(story.vector)) == pytest.approx(
        1, rel=1e-3
    )
    assert "different people" in story.explanation and "same thing" in story.explanation


def test_the_usual_complaints_from_several_people_in_an_hour_are_not_a_story(vectors):
    detector = story_detector(vectors)
    messages = [
        obs(100 + i, NOW + timedelta(minutes=5 * i), "complaint", author=f"r{i}",
            text=ROUTINE[i % 2], vector=vectors[ROUTINE[i % 2]])
        for i in range(7)
    ]  # fmt: skip
    fired = replay(detector, messages, until=timedelta(minutes=40))
    assert not [s for _, s in fired if s.kind == "story"]
