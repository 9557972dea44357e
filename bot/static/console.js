// The review queue without reloads: every decision is sent with fetch, every action has a key,
// and the queue is refetched when the server says it changed (server-sent events), or every
// few seconds when those cannot get through. All customer text arrives in server-rendered
// HTML that Jinja escaped; this script only moves those nodes and sets textContent, so nothing
// a customer wrote is ever parsed as markup by it.
(function () {
  "use strict";
  const queue = document.getElementById("queue");
  const statusBar = document.getElementById("status");
  const help = document.getElementById("help");
  const REFRESH_MS = 4000;
  const SAFETY_REFRESH_MS = 60000;
  let lastRefresh = Date.now();
  let selectedId = null;
  let selectedIndex = 0;
  let keyboardSelect = false;

  function say(text, isError) {
    if (!statusBar) return;
    statusBar.textContent = text;
    statusBar.classList.toggle("error", Boolean(isError));
  }

  async function send(form) {
    const body = new URLSearchParams(new FormData(form));
    say("Saving…");
    let response;
    try {
      response = await fetch(form.action, {
        method: "POST",
        body: body,
        credentials: "same-origin",
        headers: { "x-requested-with": "fetch" },
      });
    } catch (error) {
      say("Network error: nothing was saved. Try again.", true);
      return false;
    }
    if (!response.ok) {
      let detail = response.status + " " + response.statusText;
      try {
        const data = await response.json();
        if (data && data.detail) detail = typeof data.detail === "string" ? data.detail : JSON.stringify(data.detail);
      } catch (error) { /* not JSON */ }
      say(detail, true);
      return false;
    }
    say("Done.");
    if (queue) await refresh(true);
    else window.location.reload();
    return true;
  }

  // ------------------------------------------------------------------ forms

  document.addEventListener("submit", function (event) {
    const form = event.target;
    if (!(form instanceof HTMLFormElement) || form.method.toLowerCase() !== "post") return;
    if (form.closest("nav") || form.action.endsWith("/playbooks/reload")) return;
    event.preventDefault();
    send(form);
  });

  document.addEventListener("change", function (event) {
    const field = event.target;
    if (field.matches(".proposal-status select[name=status]")) {
      const text = field.form.querySelector("textarea[name=message]");
      const option = field.selectedOptions[0];
      if (text && option) text.value = option.dataset.message || "";
    }
    // one click corrects the type, subtype or stage; by keyboard, Enter confirms instead
    if (field.matches("form.correct select") && !keyboardSelect) send(field.form);
  });

  // ------------------------------------------------------------------ live queue

  function items() {
    return queue ? Array.from(queue.querySelectorAll("article.item")) : [];
  }

  function isDirty(article) {
    const active = document.activeElement;
    if (active && article.contains(active) && /^(TEXTAREA|INPUT|SELECT)$/.test(active.tagName)) return true;
    return Array.from(article.querySelectorAll("textarea, input[name=reason]")).some(
      function (field) { return field.value !== field.defaultValue; }
    );
  }

  async function refresh(force) {
    if (!queue) return;
    lastRefresh = Date.now();
    let response;
    try {
      response = await fetch(queue.dataset.src, { credentials: "same-origin" });
    } catch (error) {
      return; // try again next round
    }
    if (!response.ok || response.redirected) return;
    const fresh = new DOMParser().parseFromString(await response.text(), "text/html").body;
    const meta = fresh.querySelector(".queue-meta[data-version]");
    if (meta) seenVersion = meta.dataset.version;
    const old = new Map(items().map(function (a) { return [a.dataset.messageId, a]; }));
    const nodes = [];
    Array.from(fresh.children).forEach(function (node) {
      if (node.matches("article.item")) {
        const kept = old.get(node.dataset.messageId);
        if (kept && kept.dataset.version === node.dataset.version) { nodes.push(kept); return; }
        if (kept && !force && isDirty(kept)) {
          kept.classList.add("stale");
          kept.title = "Changed by someone else while you were editing";
          nodes.push(kept);
          return;
        }
      }
      nodes.push(document.importNode(node, true));
    });
    let cursor = queue.firstElementChild;
    nodes.forEach(function (node) {
      if (node === cursor) { cursor = cursor.nextElementSibling; return; }
      queue.insertBefore(node, cursor);
    });
    while (cursor) {
      const next = cursor.nextElementSibling;
      cursor.remove();
      cursor = next;
    }
    restoreSelection();
    tick();
  }

  function typingInQueue() {
    const active = document.activeElement;
    return active && queue.contains(active) && /^(TEXTAREA|INPUT|SELECT)$/.test(active.tagName);
  }

  // Live updates: the server sends the queue's version when it changes; a change seen while
  // someone types (or while the tab is hidden) is fetched once they stop.
  let live = null;
  let seenVersion = null; // the version the shown queue was read at
  let owed = false;

  function listen() {
    if (!queue.dataset.events || typeof EventSource === "undefined") return;
    live = new EventSource(queue.dataset.events);
    live.addEventListener("open", function () { queue.dataset.live = "events"; });
    live.addEventListener("error", function () { queue.dataset.live = "polling"; });
    live.addEventListener("version", function (event) {
      if (seenVersion !== null && event.data !== seenVersion) owed = true;
      seenVersion = event.data;
      catchUp();
    });
  }

  function streaming() {
    return live !== null && live.readyState === EventSource.OPEN;
  }

  async function catchUp() {
    if (!owed || typingInQueue() || document.hidden) return;
    owed = false;
    await refresh(false);
  }

  // While events flow, the queue is still refetched once a minute, for what the version does
  // not cover (a message raised to crisis priority without new drafts, for one).
  function schedule() {
    setTimeout(async function () {
      if (streaming() && Date.now() - lastRefresh < SAFETY_REFRESH_MS) await catchUp();
      else if (!typingInQueue() && !document.hidden) await refresh(false);
      schedule();
    }, REFRESH_MS);
  }

  // ------------------------------------------------------------------ selection

  function current() {
    return items().find(function (a) { return a.classList.contains("selected"); }) || null;
  }

  function select(article) {
    items().forEach(function (a) { a.classList.remove("selected"); });
    if (!article) { selectedId = null; return; }
    article.classList.add("selected");
    selectedId = article.dataset.messageId;
    selectedIndex = items().indexOf(article);
    article.scrollIntoView({ block: "nearest" });
  }

  function restoreSelection() {
    const all = items();
    const same = all.find(function (a) { return a.dataset.messageId === selectedId; });
    select(same || all[Math.min(selectedIndex, all.length - 1)] || null);
  }

  function move(step) {
    const all = items();
    if (!all.length) return;
    const at = all.indexOf(current());
    select(all[Math.max(0, Math.min(all.length - 1, at + step))]);
  }

  function chosen(article) {
    return article.querySelector(".draft.chosen") || article.querySelector(".draft");
  }

  function choose(article, index) {
    const drafts = Array.from(article.querySelectorAll(".draft"));
    if (!drafts[index]) return;
    drafts.forEach(function (d) { d.classList.remove("chosen"); });
    drafts[index].classList.add("chosen");
  }

  function focusField(field) {
    if (!field) return;
    keyboardSelect = field.tagName === "SELECT";
    field.focus();
    if (field.select && field.tagName !== "SELECT") field.select();
  }

  document.addEventListener("focusout", function (event) {
    if (event.target.tagName === "SELECT") keyboardSelect = false;
  });

  document.addEventListener("click", function (event) {
    const article = event.target.closest && event.target.closest("article.item");
    if (article && queue && queue.contains(article)) {
      if (article !== current()) select(article);
      const draft = event.target.closest(".draft");
      if (draft) choose(article, Array.from(article.querySelectorAll(".draft")).indexOf(draft));
    }
    if (event.target.id === "help-toggle" && help) help.hidden = !help.hidden;
  });

  // ------------------------------------------------------------------ keys

  document.addEventListener("keydown", function (event) {
    if (!queue) return;
    const target = event.target;
    const typing = target && /^(TEXTAREA|INPUT|SELECT)$/.test(target.tagName);
    if (typing) {
      if (event.key === "Escape") { target.blur(); event.preventDefault(); return; }
      if (event.key === "Enter" && (event.ctrlKey || event.metaKey) && target.tagName === "TEXTAREA") {
        event.preventDefault();
        send(target.form);
        return;
      }
      if (event.key === "Enter" && target.tagName === "SELECT" && target.form) {
        event.preventDefault();
        send(target.form);
      }
      return;
    }
    if (event.ctrlKey || event.metaKey || event.altKey) return;
    if (event.key === "?") { if (help) help.hidden = !help.hidden; return; }
    if (event.key === "j" || event.key === "ArrowDown") { move(1); event.preventDefault(); return; }
    if (event.key === "k" || event.key === "ArrowUp") { move(-1); event.preventDefault(); return; }
    const article = current();
    if (!article) return;
    const draft = chosen(article);
    const find = function (selector) { return article.querySelector(selector); };
    if (/^[1-9]$/.test(event.key)) { choose(article, Number(event.key) - 1); return; }
    const actions = {
      e: function () { if (draft) focusField(draft.querySelector("textarea")); },
      a: function () { if (draft) send(draft.querySelector("form.approve-form")); },
      r: function () { if (draft) focusField(draft.querySelector("form.reject input[name=reason]")); },
      n: function () { focusField(find("form.dismiss input[name=reason]")); },
      c: function () { const form = find("form.claim"); if (form) send(form); },
      g: function () { focusField(find("form.assign select")); },
      t: function () { focusField(find("form.correct-type select")); },
      u: function () { focusField(find("form.correct-subtype select")); },
      s: function () { focusField(find("form.correct-stage select")); },
      h: function () { const form = find("form.release"); if (form) send(form); },
    };
    if (actions[event.key]) { event.preventDefault(); actions[event.key](); }
  });

  // ------------------------------------------------------------------ first-response clocks

  function tick() {
    const now = Date.now();
    document.querySelectorAll("time.due[data-due]").forEach(function (el) {
      const minutes = Math.round((Date.parse(el.dataset.due) - now) / 60000);
      el.textContent = minutes >= 0 ? "due in " + minutes + " min" : -minutes + " min late";
      const article = el.closest("article.item");
      if (article && minutes < 0) { article.classList.remove("sla-ok", "sla-soon"); article.classList.add("sla-late"); }
    });
  }

  if (queue) {
    restoreSelection();
    tick();
    setInterval(tick, 30000);
    document.addEventListener("visibilitychange", catchUp);
    document.addEventListener("focusout", function () { setTimeout(catchUp, 0); });
    const shown = queue.querySelector(".queue-meta[data-version]");
    if (shown) seenVersion = shown.dataset.version;
    listen();
    schedule();
  }
})();
