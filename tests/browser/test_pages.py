"""Every console page in headless Chromium at a phone's width (390 px) and a desktop's (1280 px),
for a Chinese and an English browser: nothing scrolls sideways, tables stay readable (no
column squeezed until its words break letter by letter), and a screenshot of each is saved
under test-artifacts/screenshots/ (gitignored) for people to look at.

One server and one browser serve the whole module (seeding takes a few seconds; each page
visit a fraction of one)."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from db.models import Draft, Message
from tests.adapters.support import approve_in_console, console, rows
from tests.browser.site import SHOTS, WIDTHS, emulate, log_in, seed
from tests.browser.words import PAGE_TEXT, time_leaks, untranslated
from tests.fakes.line_api import FakeLine
from tests.fakes.live_app import LiveApp, platform_settings, wait_until
from tests.playbooks.browser import Browser, require_chromium
from tests.support import ScriptedClassifier, migrated_sqlite

PAGES = {  # name → path (filled with the seeded ids)
    "queue": "/console",
    "incidents": "/console/incidents",
    "incident": "/console/incidents/{incident}",
    "calendar-week": "/console/calendar",
    "calendar-month": "/console/calendar?view=month",
    "report": "/console/reports?from={yesterday}&to={tomorrow}",
    "settings": "/console/settings",
    "audit": "/console/audit",
    "tickets": "/console/tickets",
    "proposals": "/console/proposals",
    "users": "/console/users",
    "playbooks": "/console/playbooks",
    "chat": "/chat",
    "not-found": "/console/no-such-page",
}
# Pages whose texts are translated (helper I's list, /work/notes/I-status.md) and whose times are
# in the brand's zone: on these, a word of the other language or a UTC time fails the test.
TRANSLATED: set[str] = {
    "queue", "incidents", "incident", "tickets", "audit", "proposals", "users", "playbooks",
    "settings", "chat", "not-found",
}  # fmt: skip
TRANSLATED |= {"calendar-week", "calendar-month", "report"}
LOCAL_TIMES: set[str] = set(PAGES)
NARROW = 44  # px: a table cell narrower than this breaks its words letter by letter

OVERFLOW = """(() => {
  const width = %d;
  const over = Math.max(document.documentElement.scrollWidth, document.body.scrollWidth);
  const name = e => e.tagName.toLowerCase() + (e.className ? '.' + e.className : '');
  const wide = [...document.body.querySelectorAll('*')]
    .filter(e => e.getBoundingClientRect().right > width + 1 || e.scrollWidth > e.clientWidth + 1
                 && getComputedStyle(e).overflowX === 'visible')
    .slice(-6).map(e => name(e) + ' ' + Math.round(e.getBoundingClientRect().right) + '/'
                        + e.scrollWidth);
  return {over, wide};
})()"""
SQUEEZED = """[...document.querySelectorAll('td, th')]
  .filter(c => c.offsetParent && c.innerText.trim().length > 2
               && c.getBoundingClientRect().width < %d)
  .slice(0, 6).map(c => c.innerText.trim().slice(0, 30))"""


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    require_chromium()
    folder = tmp_path_factory.mktemp("pages")
    line = FakeLine().start()
    with pytest.MonkeyPatch.context() as patch:
        import nlp.encoder
        import playbooks.faq
        from tests.reliability.test_browser_xss import HashEncoder

        patch.setattr(nlp.encoder, "get_encoder", lambda *a, **k: HashEncoder())
        patch.setattr(playbooks.faq, "_INDEXES", {})
        settings = platform_settings(migrated_sqlite(folder / "replyline.db"), line=line)
        live = LiveApp(settings, ScriptedClassifier()).start()
        try:
            ids = seed(live, line)
            yield live, ids
        finally:
            live.stop()
            line.stop()


@pytest.fixture(scope="module")
def browser(site):
    live, _ = site
    driver = Browser(require_chromium())
    driver.call("Network.enable")
    log_in(driver, live.url)
    SHOTS.mkdir(parents=True, exist_ok=True)
    yield driver
    driver.close()


def path_of(page: str, ids: dict) -> str:
    day = ids["today"]
    return PAGES[page].format(incident=ids["incident"], yesterday=day - timedelta(days=1),
                              tomorrow=day + timedelta(days=1))  # fmt: skip


@pytest.mark.parametrize("language", ["zh", "en"])
@pytest.mark.parametrize("width", list(WIDTHS))
@pytest.mark.parametrize("page", list(PAGES))
def test_page_fits_the_screen(site, browser, page, width, language):
    live, ids = site
    emulate(browser, width, language)
    browser.open(live.url + path_of(page, ids))
    browser.wait("document.readyState === 'complete' && !!document.querySelector('main')")
    browser.screenshot(SHOTS / f"{page}-{width}-{language}.png")
    pixels = WIDTHS[width][0]
    layout = browser.js(OVERFLOW % pixels)
    assert layout["over"] <= pixels, f"{page} is {layout['over']} px wide: {layout['wide']}"
    squeezed = browser.js(SQUEEZED % NARROW)
    assert not squeezed, f"{page}: table cells squeezed below {NARROW} px: {squeezed}"
    texts = browser.js(PAGE_TEXT)
    if page in TRANSLATED:
        lang = browser.js("document.documentElement.lang")
        assert lang.startswith(language), f"{page}: <html lang={lang}> for a {language} browser"
        wrong = untranslated(texts, language)
        assert not wrong, f"{page} ({language}): untranslated: {wrong[:12]}"
    if page in LOCAL_TIMES:
        leaks = time_leaks(texts)
        assert not leaks, f"{page}: times not in the brand's zone: {leaks[:6]}"


def test_web_chat_says_received_at_once_and_shows_brand_zone_times(site, browser):
    """The customer's side on a phone: their message shows at once, then "received" as soon as
    it is stored (long before anyone answers), with its time in the brand's zone; the reply
    arrives with its time too."""
    live, _ = site
    emulate(browser, "phone", "zh")
    browser.open(f"{live.url}/chat")
    browser.wait("!!document.getElementById('text')")
    browser.js("document.getElementById('text').value = '請問今天有開嗎？'; "
               "document.getElementById('send').requestSubmit()")  # fmt: skip
    mine = "document.querySelector('#log li.me')"
    browser.wait(f"{mine} && {mine}.dataset.state === 'received'", 5)
    meta = browser.js(f"{mine}.querySelector('.meta').textContent")
    local = datetime.now(ZoneInfo(live.settings.timezone))
    assert "已收到" in meta
    clock = re.search(r"\d\d:\d\d", meta).group(0)
    expected = {(local + timedelta(minutes=d)).strftime("%H:%M") for d in (-1, 0, 1)}
    assert clock in expected, f"{meta!r} is not {live.settings.timezone} time"
    zone = browser.js("document.querySelector('footer.zone').textContent")
    assert "台北" in zone and "UTC+8" in zone, zone  # named once, with its offset
    # a person answers; the reply shows with its time
    [message] = rows(live.services.engine, Message, Message.text == "請問今天有開嗎？")
    wait_until(lambda: rows(live.services.engine, Draft, Draft.message_id == message.id),
               what="a draft")  # fmt: skip
    [draft] = rows(live.services.engine, Draft, Draft.message_id == message.id, Draft.rank == 0)
    agent = console(live, "boss")
    approve_in_console(agent, draft.id, text="有的，今天營業到晚上九點。")
    agent.close()
    reply = "document.querySelector('#log li.bot')"
    browser.wait(f"{reply} && {reply}.textContent.includes('晚上九點')", 20)
    assert re.search(r"\d\d:\d\d", browser.js(f"{reply}.querySelector('.meta').textContent"))
    assert browser.js(OVERFLOW % 390)["over"] <= 390
    browser.screenshot(SHOTS / "chat-conversation-phone-zh.png")
