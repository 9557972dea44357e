"""A severe message (a lawsuit, food poisoning, the press) arrives on LINE: every supervisor
is alerted on Telegram and on LINE within 60 s, the alert repeats while nobody answers, and a
supervisor's press on the Telegram Acknowledge button stops the repeats. Under the compose
layout the alert goes out once, however many processes see the incident."""

from __future__ import annotations

import time

from tests.e2e.conftest import SUPERVISOR_LINE, SUPERVISORS_CHAT
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

    deployment.wait_until(lambda: len(on_telegram()) >= 2, "a repeat of the alert", timeout=30)

    query = deployment.press(first, "Acknowledge", deployment.people["boss"], deployment.web[-1])
    answer = deployment.wait_until(
        lambda: next((a for a in telegram.answers if a["id"] == query), None),
        "the answer to the press",
    )
    assert "boss" in answer["text"]
    time.sleep(REPEAT_SECONDS)  # a repeat already on its way may still arrive
    settled = (len(on_telegram()), len(on_line()))
    time.sleep(REPEAT_SECONDS * 2.5)
    assert (len(on_telegram()), len(on_line())) == settled, "alerts went on after acknowledging"
    rounds = [text.split(" · ")[0] for text in on_telegram()]  # "🚨 Reminder 1: ..."
    assert len(rounds) == len(set(rounds)), f"a round was sent twice: {rounds}"

    # close the incident, so later journeys are not answered with holding statements
    incident = int(
        next(
            b["callback_data"]
            for row in first["reply_markup"]["inline_keyboard"]
            for b in row
            if b["text"].startswith("Acknowledge")
        ).split(":")[1]
    )
    deployment.console("boss").post(f"/console/incidents/{incident}/resolve", note="e2e test")
