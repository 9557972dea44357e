"""A severe message (a lawsuit, food poisoning, the press) arrives on LINE: every supervisor
is alerted on Telegram and on LINE within 60 s, each in their language (the supervisors' group
in the brand's, Traditional Chinese; a supervisor whose console language is English in
English), with the time in the brand's zone; the alert repeats while nobody answers, and a
supervisor's press on the Telegram Acknowledge button stops the repeats. Under the compose
layout the alert goes out once, however many processes see the incident."""

from __future__ import annotations

import time

from tests.e2e.conftest import SUPERVISOR_EN, SUPERVISOR_LINE, SUPERVISORS_CHAT
from tests.fakes import line_webhooks as lw

REPEAT_SECONDS = 3  # crisis_repeat_minutes in conftest.py


def test_a_crisis_on_line_alerts_supervisors_repeats_and_stops_when_acknowledged(deployment):
    telegram, line = deployment.telegram, deployment.line

    def on_telegram():
        return telegram.texts_to(SUPERVISORS_CHAT)

    def on_line():
        return [d for d in line.delivered if d["to"] == SUPERVISOR_LINE]

    customer = lw.user_id(3000 + len(deployment.layout))
    deployment.line_says(
        "Your chicken bento gave my son food poisoning. I have called my lawyer and we are "
        "suing you, and I already told the press. (crisis)",
        customer,
    )
    deployment.wait_until(
        lambda: on_telegram() and on_line(), "the alert on Telegram and LINE", timeout=60
    )
    first = next(m for m in telegram.messages if m["chat_id"] == str(SUPERVISORS_CHAT))
    assert "(crisis)" in first["text"] or "food poisoning" in first["text"]
    assert first["text"].startswith("🚨 可能的危機 · 危機事件 #")  # the brand's language
    assert "台北時間（UTC+8）" in first["text"]
    [[chinese_button]] = first["reply_markup"]["inline_keyboard"]
    assert chinese_button["text"] == "確認處理"
    english = deployment.wait_until(
        lambda: next((m for m in telegram.messages if m["chat_id"] == str(SUPERVISOR_EN)), None),
        "the alert to the supervisor who reads English",
    )
    assert english["text"].startswith("🚨 Possible crisis · incident #")
    assert "Taiwan Time (UTC+8)" in english["text"]
    assert english["reply_markup"]["inline_keyboard"] == [
        [{**chinese_button, "text": "Acknowledge"}]
    ]
    assert "危機事件" not in english["text"] and "Possible crisis" not in first["text"]

    deployment.wait_until(lambda: len(on_telegram()) >= 2, "a repeat of the alert", timeout=30)

    query = deployment.press(first, "ack:", deployment.people["boss"], deployment.web[-1])
    answer = deployment.wait_until(
        lambda: next((a for a in telegram.answers if a["id"] == query), None),
        "the answer to the press",
    )
    assert "已由 boss 確認處理" in answer["text"]  # boss follows the brand's language
    time.sleep(REPEAT_SECONDS)  # a repeat already on its way may still arrive
    settled = (len(on_telegram()), len(on_line()))
    time.sleep(REPEAT_SECONDS * 2.5)
    assert (len(on_telegram()), len(on_line())) == settled, "alerts went on after acknowledging"
    rounds = [text.split(" · ")[0] for text in on_telegram()]  # "🚨 第 1 次提醒：尚無人確認"
    assert len(rounds) == len(set(rounds)), f"a round was sent twice: {rounds}"

    # close the incident, so later journeys are not answered with holding statements
    incident = int(
        next(
            b["callback_data"]
            for row in first["reply_markup"]["inline_keyboard"]
            for b in row
            if b["callback_data"].startswith("ack:")
        ).split(":")[1]
    )
    deployment.console("boss").post(f"/console/incidents/{incident}/resolve", note="e2e test")
