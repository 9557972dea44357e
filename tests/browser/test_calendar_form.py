"""The calendar's post form on a phone: a refused post comes back with its reason where the
eye is (focused and scrolled into view), not at the top of a long page, and with what was
typed kept."""

from __future__ import annotations

import json

from tests.browser.site import emulate
from tests.browser.test_pages import browser, site  # noqa: F401 (the seeded server and browser)


def test_a_refused_post_shows_its_reason_in_view_on_a_phone(site, browser):  # noqa: F811
    live, _ = site
    emulate(browser, "phone", "zh")
    browser.open(f"{live.url}/console/calendar")
    browser.wait("!!document.querySelector('.add-post form')")
    fields = {"text": "週末市集見！", "target": "line:everyone"}
    browser.js(f"""(() => {{
        const form = document.querySelector('.add-post form');
        for (const [name, value] of Object.entries({json.dumps(fields)}))
            form.elements[name].value = value;
        form.requestSubmit();
    }})()""")
    browser.wait("!!document.getElementById('post-error')")
    browser.wait("document.activeElement && document.activeElement.id === 'post-error'", 5)
    box = browser.js("(() => { const r = document.getElementById('post-error')"
                     ".getBoundingClientRect(); return [r.top, r.bottom, innerHeight]; })()")  # fmt: skip
    top, bottom, height = box
    assert top >= 0 and bottom <= height, f"the reason is off screen: {box}"
    assert browser.js("document.querySelector('.add-post textarea').value") == "週末市集見！"
    assert browser.js("document.documentElement.lang").startswith("zh")
