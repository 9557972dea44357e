// Web chat: send with a client id (so a retried send is stored once), poll for replies.
// A sent message shows at once, then "received" as soon as the server has stored it; every
// message carries its time in the brand's time zone. Text is always inserted with
// textContent, never as HTML. A refusal is told in the visitor's words by its status (the
// API's own error texts are for programs).
(function () {
  "use strict";
  const chat = document.querySelector(".chat");
  const log = document.getElementById("log");
  const form = document.getElementById("send");
  const input = document.getElementById("text");
  const status = document.getElementById("status");
  const ZONE = (chat && chat.dataset.timezone) || "Asia/Taipei";
  // The page's words come with the page, in the visitor's language (the server's catalogue).
  const T = JSON.parse((chat && chat.dataset.texts) || "{}");
  const LOCALE = document.documentElement.lang || "zh-Hant-TW";
  const clock = new Intl.DateTimeFormat(LOCALE,
    { timeZone: ZONE, hour: "2-digit", minute: "2-digit", hourCycle: "h23" });
  const day = new Intl.DateTimeFormat(LOCALE,
    { timeZone: ZONE, month: "numeric", day: "numeric" });
  let after = 0;

  function when(iso) {
    // stored times are UTC; one without an offset is UTC too
    const date = new Date(/[zZ]|[+-]\d\d:\d\d$/.test(iso) ? iso : iso + "Z");
    const today = day.format(new Date()) === day.format(date);
    return (today ? "" : day.format(date) + " ") + clock.format(date);
  }

  function bubble(direction, text) {
    const li = document.createElement("li");
    li.className = direction === "out" ? "bot" : "me";
    const body = document.createElement("span");
    body.className = "text";
    body.textContent = text;
    const meta = document.createElement("small");
    meta.className = "meta";
    li.append(body, meta);
    log.appendChild(li);
    log.scrollTop = log.scrollHeight;
    return li;
  }

  function stamp(li, iso, state) {
    const meta = li.querySelector(".meta");
    meta.textContent = "";
    if (iso) {
      const time = document.createElement("time");
      time.dateTime = iso;
      time.textContent = when(iso);
      meta.append(time);
    }
    if (state) meta.append((iso ? " · " : "") + state);
    li.dataset.state = state === T.received ? "received" : state ? "sending" : "";
  }

  function show(message) {
    // our own message, already on screen since we sent it: mark it, do not repeat it
    const mine = message.direction !== "out" && Array.from(log.querySelectorAll("li.me:not([data-id])"))
      .find(function (li) { return li.querySelector(".text").textContent === message.text; });
    const li = mine || bubble(message.direction, message.text);
    li.dataset.id = message.id;
    stamp(li, message.at, message.direction === "out" ? "" : T.received);
  }

  async function poll() {
    try {
      const response = await fetch("/chat/api/messages?after=" + after, { credentials: "same-origin" });
      if (response.ok) {
        const data = await response.json();
        for (const message of data.messages) {
          if (log.querySelector('li[data-id="' + message.id + '"]')) continue;
          show(message);
          after = Math.max(after, message.id);
        }
      }
    } catch (e) { /* offline for a moment; try again */ }
    setTimeout(poll, 1500);
  }

  function refusal(code) {
    if (code === 401) return T.reload;
    if (code === 429) return T.tooMany;
    if (code === 413) return T.tooLong;
    return T.failed;
  }

  function clientId() {
    const bytes = new Uint8Array(16);
    crypto.getRandomValues(bytes);
    return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
  }

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const text = input.value.trim();
    if (!text) return;
    input.value = "";
    const li = bubble("in", text);
    stamp(li, new Date().toISOString(), T.sending);
    const body = JSON.stringify({ text: text, client_id: clientId() });
    for (let attempt = 0; attempt < 3; attempt++) {
      try {
        const response = await fetch("/chat/api/messages", {
          method: "POST", credentials: "same-origin",
          headers: { "Content-Type": "application/json" }, body: body,
        });
        if (response.ok) {
          status.textContent = "";
          if (li.dataset.state !== "received") stamp(li, li.querySelector("time").dateTime, T.received);
          return;
        }
        status.textContent = refusal(response.status);
        if (response.status < 500) { li.remove(); input.value = text; return; }
      } catch (e) { status.textContent = T.retrying; }
      await new Promise((r) => setTimeout(r, 1000 * (attempt + 1)));
    }
    li.remove();
    input.value = text;
    status.textContent = T.failed;
  });
  poll();
})();
