"""The report as people get it: files from the shell, the console page, the monthly message,
and the sections on crisis incidents and proposals."""

from __future__ import annotations

import asyncio
import base64
import json
import re
from datetime import date

import pytest
from fastapi.testclient import TestClient
from markupsafe import escape

from bot.cli import main as replyline
from bot.config import get_settings
from bot.i18n import use_locale
from bot.jobs import start_scheduler, stop_scheduler
from bot.reports import Period, build_report
from bot.reports.monthly import send_report
from bot.reports.render import to_html
from bot.web.app import create_app
from bot.web.security import hash_password
from db.engine import session_scope
from db.models import Draft, Incident, IncidentAlert, IncidentNote, Message, Proposal, User
from tests.fakes.channel import FakeChannel
from tests.reports.fixture import FIRST, LAST, TAIPEI, at, build

HOSTILE = '<script>alert("退貨")</script>退貨流程'


def add_hostile_questions(engine, ids) -> None:
    """Two holding replies to questions carrying markup, so the FAQ gap quotes them."""
    with session_scope(engine) as session:
        for n in range(2):
            message = Message(
                channel="line",
                platform_event_id=f"x{n}",
                conversation_id=ids["convB"],
                contact_id=ids["B"],
                text=HOSTILE,
                type="question",
                sent_at=at("11-03 11:00"),
            )
            session.add(message)
            session.flush()
            session.add(
                Draft(
                    message_id=message.id,
                    conversation_id=ids["convB"],
                    text="稍後回覆",
                    original_text="稍後回覆",
                    playbook="question/identification",
                    status="sent",
                    sent_at=at("11-03 11:30"),
                )
            )


def test_the_shell_writes_a_self_contained_html_report_and_the_same_numbers_as_json(
    engine, settings, database_url, monkeypatch, tmp_path, capsys
):
    ids = build(engine)
    add_hostile_questions(engine, ids)
    monkeypatch.setenv("REPLYLINE_DATABASE_URL", database_url)
    get_settings.cache_clear()
    try:
        out = str(tmp_path / "r")
        code = replyline(["report", "--from", FIRST, "--to", LAST, "--out", out, "--lang", "en"])
        assert code == 0
        backwards = ["report", "--from", LAST, "--to", FIRST, "--out", str(tmp_path)]
        assert replyline([*backwards, "--lang", "en"]) == 2
        assert "ends before it starts" in capsys.readouterr().err
        assert replyline(backwards) == 2  # the brand's language
        assert "結束日早於開始日" in capsys.readouterr().err
    finally:
        get_settings.cache_clear()
    html = (tmp_path / "r" / "report.html").read_text(encoding="utf-8")
    data = json.loads((tmp_path / "r" / "report.json").read_text(encoding="utf-8"))
    expected = build_report(engine, settings, Period.parse(FIRST, LAST, TAIPEI), charts=False)
    data["period"].pop("generated_at")
    expected.data["period"].pop("generated_at")
    assert data == expected.data
    # self-contained: no scripts, no external styles or images; charts are embedded PNGs
    assert "<script" not in html and "<link" not in html and 'src="http' not in html
    charts = re.findall(r'src="data:image/png;base64,([^"]+)"', html)
    assert len(charts) >= 6
    assert all(base64.b64decode(c).startswith(b"\x89PNG") for c in charts)
    # customer text is shown escaped
    assert "&lt;script&gt;alert(&#34;退貨&#34;)&lt;/script&gt;退貨流程" in html
    for rec in data["recommendations"]:  # report.json keeps the sentences in English
        assert str(escape(rec["title"])) in html and str(escape(rec["evidence"])) in html


def add_incident(engine) -> None:
    """An incident with alerts and a note, for the times a report lists."""
    with session_scope(engine) as s:
        spike = Incident(status="resolved", severity=7, title="退貨抱怨暴增",
                         opened_at=at("11-02 10:00"), acknowledged_at=at("11-02 10:20"),
                         acknowledged_by="boss", resolved_at=at("11-02 11:30"),
                         resolved_by="boss")  # fmt: skip
        s.add(spike)
        s.flush()
        s.add(IncidentNote(incident_id=spike.id, at=at("11-02 11:00"), username="boss",
                           action="note", text="已發聲明"))  # fmt: skip


UTC_STAMP = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d|\+00:00|\bUTC\b(?![+-]\d)")
LANGUAGES = {
    "zh_Hant_TW": (
        [
            "互動報表",
            "改善建議",
            "第一次回覆",
            "關係階段",
            "危機事件",
            "排程貼文與互動",
            "觸及",
            "2026年11月2日 10:00",
            "時間均為台北時間（UTC+8）。",
            '<html lang="zh-Hant-TW">',
            "回覆還沒有人回應的對話",
            "「營業時間」",
            "每日訊息數（依類型）",
            "提問",
            "熟客",
        ],
        ["Engagement report", "Recommendations", "customer messages", "generated", "opened"],
    ),
    "en": (
        [
            "Engagement report",
            "Recommendations",
            "First response",
            "Relationship stages",
            "Incidents",
            "Scheduled posts and engagement",
            "Reach",
            "Nov 2, 2026 10:00",
            "Times are Taiwan Time (UTC+8).",
            '<html lang="en">',
            "Answer the conversations left without a reply",
            "“營業時間”",
            "Messages per day, by type",
            "Question",
            "Regular",
        ],
        ["互動報表", "改善建議", "第一次回覆", "台北時間"],
    ),
}


@pytest.mark.parametrize("language", list(LANGUAGES))
def test_the_shell_report_speaks_the_chosen_language_with_brand_zone_times(
    engine, database_url, monkeypatch, tmp_path, language
):
    ids = build(engine)
    add_hostile_questions(engine, ids)
    add_incident(engine)
    monkeypatch.setenv("REPLYLINE_DATABASE_URL", database_url)
    get_settings.cache_clear()
    try:
        args = ["report", "--from", FIRST, "--to", LAST, "--out", str(tmp_path), "--lang", language]
        assert replyline(args) == 0
    finally:
        get_settings.cache_clear()
    html = (tmp_path / "report.html").read_text(encoding="utf-8")
    present, absent = LANGUAGES[language]
    for words in present:
        assert words in html, words
    for words in absent:
        assert words not in html, words
    # the incident opened 10:00 Taipei time (02:00 UTC): read as 10:00, never as a stamp
    # (<time datetime="..."> keeps the exact moment for machines)
    text = re.sub(r"<[^>]+>", " ", html.split("</style>")[1])
    assert not UTC_STAMP.findall(text)
    assert "02:00" not in text


def test_the_shell_report_is_in_the_brands_language_unless_told(
    engine, database_url, monkeypatch, tmp_path, capsys
):
    build(engine)
    monkeypatch.setenv("REPLYLINE_DATABASE_URL", database_url)
    monkeypatch.setenv("REPLYLINE_LANGUAGE", "en")
    get_settings.cache_clear()
    try:
        assert replyline(["report", "--from", FIRST, "--to", LAST, "--out", str(tmp_path)]) == 0
        assert '<html lang="en">' in (tmp_path / "report.html").read_text(encoding="utf-8")
        assert "wrote " in capsys.readouterr().out
        monkeypatch.delenv("REPLYLINE_LANGUAGE")
        get_settings.cache_clear()
        assert replyline(["report", "--from", FIRST, "--to", LAST, "--out", str(tmp_path)]) == 0
        assert "互動報表" in (tmp_path / "report.html").read_text(encoding="utf-8")
        assert "已寫入 " in capsys.readouterr().out
        assert replyline(["--lang", "en", "report", "--from", FIRST, "--to", LAST,
                          "--out", str(tmp_path)]) == 0  # fmt: skip
        assert "Engagement report" in (tmp_path / "report.html").read_text(encoding="utf-8")
        with pytest.raises(SystemExit):
            replyline(["report", "--from", FIRST, "--to", LAST, "--out", ".", "--lang", "fr"])
    finally:
        get_settings.cache_clear()


def test_incidents_and_proposals_of_the_period_are_listed_with_their_timelines(engine, settings):
    ids = build(engine)
    with session_scope(engine) as s:
        spike = Incident(status="resolved", severity=7, title="<b>退貨</b>抱怨暴增",
                         opened_at=at("11-02 10:00"), acknowledged_at=at("11-02 10:20"),
                         acknowledged_by="boss", resolved_at=at("11-02 11:30"),
                         resolved_by="boss")  # fmt: skip
        old = Incident(status="open", severity=2, title="before the period",
                       opened_at=at("10-01 10:00"))  # fmt: skip
        s.add_all([spike, old])
        s.flush()
        spike_id = spike.id
        s.add_all(
            [
                IncidentAlert(incident_id=spike.id, round=1, recipient="telegram:42",
                              at=at("11-02 10:01"), ok=True),
                IncidentAlert(incident_id=spike.id, round=2, recipient="line:Uabc",
                              at=at("11-02 10:11"), ok=False, error="HTTP 500"),
                IncidentNote(incident_id=spike.id, at=at("11-02 11:00"), username="boss",
                             action="note", text="已發聲明"),
                IncidentNote(incident_id=old.id, at=at("11-02 11:05"), username="boss",
                             action="note", text="not in this report"),
                Proposal(number="P-1", message_id=ids["m7"], conversation_id=ids["convA"],
                         text="舉辦二手市集", status="adopted", created_at=at("11-03 09:00")),
                Proposal(number="P-2", message_id=ids["m4"], conversation_id=ids["group"],
                         text="會員共創", status="open", created_at=at("11-02 20:00")),
                Proposal(number="P-3", message_id=ids["m9"], conversation_id=ids["convC"],
                         text="next period", created_at=at("11-04 00:00")),
            ]
        )  # fmt: skip
    report = build_report(engine, settings, Period.parse(FIRST, LAST, TAIPEI))
    r = report.data
    assert r["incidents"]["count"] == 1
    assert (r["incidents"]["by_status"], r["incidents"]["by_severity"]) == (
        {"resolved": 1},
        {"7": 1},
    )
    [item] = r["incidents"]["items"]
    assert (item["id"], item["title"], item["severity"], item["status"]) == (
        spike_id,
        "<b>退貨</b>抱怨暴增",
        7,
        "resolved",
    )
    assert (item["minutes_to_acknowledge"], item["minutes_open"]) == (20.0, 90.0)
    assert item["opened_at"] == "2026-11-02T02:00:00+00:00"
    assert [e["what"] for e in item["timeline"]] == [
        "opened",
        "alert round 1 to telegram:42",
        "alert round 2 to line:Uabc (not delivered)",
        "acknowledged",
        "note by boss: 已發聲明",
        "resolved",
    ]
    assert r["proposals"]["by_status"] == {"open": 1, "adopted": 1}
    assert [(p["number"], p["title"]) for p in r["proposals"]["items"]] == [
        ("P-2", "會員共創"),
        ("P-1", "舉辦二手市集"),
    ]
    with use_locale("en"):
        html = to_html(report)
    assert "&lt;b&gt;退貨&lt;/b&gt;抱怨暴增" in html and "note by boss: 已發聲明" in html
    assert "P-1" in html and "舉辦二手市集" in html and "next period" not in html
    assert "alert round 2 to line:Uabc (not delivered)" in html
    with use_locale("zh_Hant_TW"):
        html = to_html(report)
    assert "boss 的備註：已發聲明" in html and "第 2 輪警報發給 line:Uabc（未送達）" in html


def test_supervisors_get_the_monthly_report_as_a_summary_with_a_link(services, settings):
    """Each in their language: the supervisor linked to telegram:42 reads English, the LINE
    chat no console user is linked to reads the brand's Traditional Chinese."""
    build(services.engine)
    with session_scope(services.engine) as session:
        session.add(User(username="lee", password_hash=hash_password("super pw 1"),
                         role="supervisor", telegram_user_id="42", locale="en"))  # fmt: skip
    settings.reports.recipients = "telegram:42, line:Uabc"
    settings.web.public_url = "https://care.example.tw"
    telegram, line = FakeChannel("telegram"), FakeChannel("line")
    services.channels |= {"telegram": telegram, "line": line}
    outcome = asyncio.run(send_report(services, today=date(2026, 12, 1)))
    assert outcome == {"telegram:42": True, "line:Uabc": True}
    [(recipient, text, _)] = telegram.pushed
    assert recipient == "42"
    assert text.startswith("replyline report Nov 1, 2026 – Nov 30, 2026")
    # all of November: m1..m9 and p2 (11-01); before it (10-02..10-31): p1
    assert "Messages: 10 (before: 1); complaints 2 (20%)" in text
    # p2's turn, never answered, now counts too
    assert "First response: median 37.5 min, p90 120 min (target 60 min); unanswered 2" in text
    assert "First recommendation: Answer the conversations left without a reply." in text
    link = "https://care.example.tw/console/reports?from=2026-11-01&to=2026-11-30"
    assert text.endswith(f"Full report: {link}")
    [(chat, chinese, _)] = line.pushed
    assert chat == "Uabc" and chinese.startswith("replyline 報表 2026年11月1日 – 2026年11月30日")
    assert "訊息：10 則（上一期 1 則）；客訴 2 則（20%）" in chinese
    assert "第一次回覆：中位數 37.5 分鐘，九成在 120 分鐘內（目標 60 分鐘）；未回覆 2 段" in chinese
    assert "首要建議：回覆還沒有人回應的對話。" in chinese and chinese.endswith(f"完整報表：{link}")


def test_the_monthly_report_and_the_calendar_sweep_are_standing_jobs(services):
    async def scenario():
        await start_scheduler(services)
        try:
            monthly = services.scheduler.get_job("report:monthly")
            sweep = services.scheduler.get_job("calendar:sweep")
            assert sweep is not None and monthly is not None
            first = monthly.next_run_time.astimezone(TAIPEI)
            assert (first.day, first.hour, first.minute) == (1, 9, 0)
            assert monthly.misfire_grace_time == 12 * 3600
            await start_scheduler(services)  # a second process does not duplicate them
            assert len(services.scheduler.aps.get_jobs()) == 2
            await stop_scheduler(services)
        finally:
            await stop_scheduler(services)

    asyncio.run(scenario())


@pytest.fixture
def console(services, settings):
    settings.pipeline.worker_enabled = False
    build(services.engine)
    with session_scope(services.engine) as session:
        session.add(User(username="mei", password_hash=hash_password("agent pw 1"), role="agent"))
    with TestClient(create_app(settings, services)) as client:
        yield client


def test_the_console_shows_the_report_for_any_period(console):
    assert console.get("/console/reports", follow_redirects=False).status_code == 303
    console.post("/console/login", data={"username": "mei", "password": "agent pw 1"})
    page = console.get(f"/console/reports?from={FIRST}&to={LAST}")
    assert page.status_code == 200
    assert "Recommendations" in page.text and "data:image/png;base64," in page.text
    assert "37.5 min" in page.text and "營業時間" in page.text
    chinese = console.get(
        f"/console/reports?from={FIRST}&to={LAST}", headers={"Accept-Language": "zh-TW"}
    ).text
    assert "改善建議" in chinese and "37.5 分鐘" in chinese and "Recommendations" not in chinese
    numbers = console.get(f"/console/reports.json?from={FIRST}&to={LAST}").json()
    assert numbers["messages"]["total"] == 9
    download = console.get(f"/console/reports/download?from={FIRST}&to={LAST}")
    assert "attachment" in download.headers["content-disposition"]
    assert download.text.startswith("<!doctype html>")
    bad = console.get("/console/reports?from=2026-11-05&to=2026-11-01")
    assert bad.status_code == 422 and "ends before it starts" in bad.text
    assert console.get("/console/reports.json?from=yesterday&to=today").status_code == 422
    assert console.get("/console/reports").status_code == 200  # the last 30 days


@pytest.mark.parametrize(
    ("language", "title"),
    [("zh_Hant_TW", "可能有法律威脅（網站聊天）"), ("en", "Possible legal threat on Web chat")],
)
def test_an_incident_is_titled_in_the_readers_language(engine, settings, language, title):
    """A detector writes an incident's title in English; the report says it again from the
    signal's figures, so a Chinese report has no English heading (report.json keeps both)."""
    build(engine)
    english = "Possible legal threat on Web chat"
    signal = {"kind": "severity", "title": english, "figures": {"category": "legal",
              "channel": "web"}}  # fmt: skip
    with session_scope(engine) as s:
        s.add(Incident(status="open", severity=8, title=english, signals=[signal],
                       opened_at=at("11-02 10:00")))  # fmt: skip
    report = build_report(engine, settings, Period.parse(FIRST, LAST, TAIPEI))
    [item] = report.data["incidents"]["items"]
    assert (item["title"], item["signal"]) == (english, signal)
    with use_locale(language):
        html = to_html(report)
    assert f"#{item['id']} {title}</strong>" in html
    if language != "en":
        assert english not in html
