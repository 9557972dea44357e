"""Every console page in headless Chromium at a phone's width (390 px) and a desktop's (1280 px),
for a Chinese and an English browser: nothing scrolls sideways, tables stay readable (no
column squeezed until its words break letter by letter), and a screenshot of each is saved
under test-artifacts/screenshots/ (gitignored) for people to look at.

One server and one browser serve the whole module (seeding takes a few seconds; each page
visit a fraction of one)."""

from __future__ import annotations

import pytest

from tests.browser.site import SHOTS, WIDTHS, emulate, log_in, seed
from tests.fakes.line_api import FakeLine
from tests.fakes.live_app import LiveApp, platform_settings
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
}
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
    from datetime import timedelta

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
