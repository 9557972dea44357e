"""What a page's reader should never see: words of the other language (allowing customer
content and names) and times that are not in the brand's zone (a bare "UTC", ISO stamps)."""

from __future__ import annotations

import re

# Elements whose text is not the console's own: what customers and the team wrote, names,
# code. Templates mark anything else of that kind with translate="no" (HTML's own attribute
# for "leave this text as it is").
CONTENT = (
    "script, style, noscript, textarea, code, pre, kbd, blockquote, q, .customer-text, .context, "
    ".from, .draft-text, .post-text, .excerpt, .who, [translate=no], option"
)
PAGE_TEXT = """(() => {
  const skip = %s;
  const out = [];
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    const el = node.parentElement;
    if (!el || el.closest(skip) || !el.getClientRects().length) continue;
    const text = node.textContent.trim();
    if (text) out.push(text);
  }
  for (const el of document.querySelectorAll('input[placeholder], textarea[placeholder]'))
    if (el.getClientRects().length) out.push(el.placeholder);
  for (const el of document.querySelectorAll('input[type=submit], button[value]'))
    if (el.value && el.getClientRects().length) out.push(el.value);
  return out;
})()""" % repr(CONTENT)  # noqa: UP031

# names a Chinese page may show as they are: the product, platforms, abbreviations people use
LATIN_ALLOWED = {
    "replyline", "line", "telegram", "faq", "csv", "sla", "url", "https", "http", "json", "html",
    "english", "cron", "onnx", "e-mail", "email", "id", "ok", "admin", "boss", "mei", "pdf",
    "png", "jpeg", "ctrl", "enter", "esc", "utc", "asia", "taipei", "yaml", "sqlite", "wal", "cpu",
}  # fmt: skip
LATIN_WORD = re.compile(r"[A-Za-z][A-Za-z'-]{2,}")
CJK = re.compile(r"[\u3400-\u9fff\uf900-\ufaff\u3000-\u303f\uff01-\uff60]+")
CJK_ALLOWED = re.compile(r"^(繁體中文|中文|客人\d*|、|。|，|：|（|）|「|」)$")
ISO_STAMP = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d|\d\d:\d\d:\d\d\.\d+")
UTC = re.compile(r"\bUTC\b(?![+-]\d)|\+00:00")  # "Taiwan Time (UTC+8)" names the zone


def untranslated(texts: list[str], language: str) -> list[str]:
    """Pieces of UI text in the wrong language: English words on a Chinese page, Chinese on an
    English one."""
    found = []
    for text in texts:
        if language == "zh":
            found += [w for w in LATIN_WORD.findall(text) if w.lower() not in LATIN_ALLOWED]
        else:
            found += [c for c in CJK.findall(text) if not CJK_ALLOWED.match(c)]
    return found


def time_leaks(texts: list[str]) -> list[str]:
    """Times shown in UTC or as machine stamps; people read their brand's local time."""
    return [t for t in texts if UTC.search(t) or ISO_STAMP.search(t)]
