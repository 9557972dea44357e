"""Timed work through the scheduler of the running processes: a post a supervisor approved goes
out to Telegram and LINE at its time, and the monthly report reaches its recipients."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlmodel import select

from bot.i18n import localdate, use_locale
from bot.reports import Period
from bot.reports.monthly import JOB_ID
from db.models import Post
from tests.e2e.conftest import CHANNEL, CHANNEL_ID, REPORT_LINE, REPORT_TELEGRAM

TIMEZONE = ZoneInfo("Asia/Taipei")  # REPLYLINE_TIMEZONE's default, the calendar's zone
LEAD_SECONDS = 10  # long enough to plan and approve the post before it is due


def test_an_approved_post_is_published_to_telegram_and_line_at_its_time(deployment):
    due = (datetime.now(UTC) + timedelta(seconds=LEAD_SECONDS)).replace(microsecond=0)
    local = due.astimezone(TIMEZONE)
    texts = {
        f"telegram:{CHANNEL}": f"Our winter menu starts today ({deployment.layout} telegram)",
        "line:broadcast": f"Our winter menu starts today ({deployment.layout} line)",
    }
    planner = deployment.console("ana", deployment.web[0])
    for target, text in texts.items():
        planner.post(
            "/console/posts",
            text=text,
            target=target,
            day=local.date().isoformat(),
            at=local.strftime("%H:%M:%S"),
            stage_goal="relationship",
        )
    ids = deployment.query(
        lambda s: s.exec(select(Post.id).where(Post.text.in_(list(texts.values())))).all()
    )
    assert len(ids) == 2
    supervisor = deployment.console("boss", deployment.web[-1])
    for post_id in ids:
        supervisor.post(f"/console/posts/{post_id}/approve")

    telegram_text, line_text = texts.values()
    deployment.wait_until(
        lambda: telegram_text in deployment.telegram.texts_to(CHANNEL_ID),
        "the post in the Telegram channel",
        timeout=LEAD_SECONDS + 30,
    )
    deployment.wait_until(
        lambda: line_text in deployment.line.texts("broadcast"),
        "the LINE broadcast",
        timeout=30,
    )

    def posts() -> list[Post]:
        return deployment.query(lambda s: s.exec(select(Post).where(Post.id.in_(ids))).all())

    deployment.wait_until(lambda: {p.status for p in posts()} == {"sent"}, "the posts marked sent")
    assert all(p.sent_at >= due for p in posts()), "a post went out before its time"


def test_the_monthly_report_reaches_its_recipients_on_telegram_and_line(deployment):
    # The job runs on the 1st at REPLYLINE_MONTHLY_REPORT_HOUR; the test brings the stored
    # job's next run time forward to now instead of waiting for the 1st.
    deployment.run_job_now(JOB_ID)

    def on_telegram():
        return [t for t in deployment.telegram.texts_to(REPORT_TELEGRAM) if "report" in t]

    def on_line():
        return [
            d["text"]
            for d in deployment.line.delivered
            if d["to"] == REPORT_LINE and "report" in (d["text"] or "")
        ]

    [summary] = deployment.wait_until(on_telegram, "the report on Telegram", timeout=30)
    deployment.wait_until(on_line, "the report on LINE", timeout=30)
    assert on_line() == [summary]
    period = Period.month_before(datetime.now(TIMEZONE).date(), TIMEZONE)
    with use_locale("zh_Hant_TW"):  # the brand's language: no recipient is a console user
        assert f"{localdate(period.first)} – {localdate(period.last)}" in summary
    assert f"/console/reports?from={period.first}&to={period.last}" in summary
