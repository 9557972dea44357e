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

  // ------------------------------------------------------------------ words

  // The page's language (the console sets <html lang>); the script's own few words in both.
  const TEXTS = {
    zh: {
      saving: "儲存中…", done: "完成。", network: "網路錯誤：沒有儲存任何內容，請再試一次。",
      approved: "已核准，回覆正在送給 {who}…", replied: "你的回覆正在送給 {who}…",
      retrying: "送給 {who} 時出了問題，正在重試…", sent: "回覆已送達 {who}。",
      failed: "回覆無法送給 {who}，請看上方「無法送出」。", rejected: "已退回這份草稿。",
      dismissed: "已記錄：這則訊息不需回覆。", customer: "客人", edit: "編輯",
      editing: "編輯中：文字保留，游標在最後；Ctrl+Enter 核准，Esc 離開。",
      stale: "你編輯時，別人更動了這則訊息", dueIn: "還有 {n} 分鐘", late: "逾時 {n} 分鐘",
      thisReply: "這份回覆", thisMessage: "這則訊息",
    },
    en: {
      saving: "Saving…", done: "Done.", network: "Network error: nothing was saved. Try again.",
      approved: "Approved; the reply is on its way to {who}…", replied: "Your reply is on its way to {who}…",
      retrying: "Sending to {who} hit a problem; trying again…", sent: "Reply delivered to {who}.",
      failed: "The reply could not be sent to {who}: see “Could not be sent” above.",
      rejected: "Draft rejected.", dismissed: "Noted: this message needs no reply.",
      customer: "the customer", edit: "Edit",
      editing: "Editing: your text stays, the cursor is at the end; Ctrl+Enter approves, Esc leaves.",
      stale: "Changed by someone else while you were editing", dueIn: "due in {n} min",
      late: "{n} min late", thisReply: "this reply", thisMessage: "this message",
    },
  };
  const LANG = /^en/i.test(document.documentElement.lang) ? "en" : "zh";

  function t(key, values) {
    return TEXTS[LANG][key].replace(/\{(\w+)\}/g, function (_, name) { return values[name]; });
  }

  // Server messages may name internal ids ("draft 812 is already sent"); people see "this reply".
  function plain(detail) {
    return detail
      .replace(/\b(draft|reply)\s+#?\d+/gi, t("thisReply"))
      .replace(/\b(message|proposal|ticket)\s+#?\d+/gi, t("thisMessage"));
  }

  // ------------------------------------------------------------------ status next to its item

  // Notes on queue items, by message id: shown inside the item, or in its place once a
  // decision has taken it out of the queue (so "approved", "sent", "failed" appear where the
  // person was looking, not at the top of the page).
  const notes = new Map();
  const NOTE_MS = 30000;

  function note(messageId, text, isError, keepMs) {
    let entry = notes.get(messageId);
    if (!entry) {
      const el = document.createElement("p");
      el.className = "item-note";
      el.setAttribute("role", "status");
      el.dataset.noteFor = messageId;
      entry = { el: el };
      notes.set(messageId, entry);
    }
    entry.el.textContent = text;
    entry.el.classList.toggle("error", Boolean(isError));
    entry.until = keepMs === null ? null : Date.now() + (keepMs || NOTE_MS);
    placeNotes();
  }

  function placeNotes(order) {
    const now = Date.now();
    notes.forEach(function (entry, id) {
      if (entry.until !== null && entry.until < now) { entry.el.remove(); notes.delete(id); return; }
      const article = queue && queue.querySelector('article.item[data-message-id="' + id + '"]');
      if (article) {
        const drafts = article.querySelector(".drafts");
        if (entry.el.parentNode !== article) article.insertBefore(entry.el, drafts || null);
        return;
      }
      if (entry.el.isConnected && !order) return;
      // gone from the queue: in its place, before the next item that was below it
      const below = (order || []).slice((order || []).indexOf(id) + 1)
        .map(function (next) { return queue.querySelector('article.item[data-message-id="' + next + '"]'); })
        .find(Boolean);
      const items = queue ? queue.querySelectorAll("article.item") : [];
      if (below) below.before(entry.el);
      else if (items.length) items[items.length - 1].after(entry.el);
      else if (queue) queue.append(entry.el);
    });
  }

  function formNote(form, text, isError) {
    let el = form.nextElementSibling;
    if (!el || !el.classList.contains("form-note")) {
      el = document.createElement("p");
      el.className = "form-note";
      el.setAttribute("role", "status");
      form.after(el);
    }
    el.textContent = text;
    el.classList.toggle("error", Boolean(isError));
  }

  function customerOf(article) {
    const from = article && article.querySelector(".from");
    return (from && from.textContent.trim()) || t("customer");
  }

  // After approving: follow the reply until it is delivered or has failed, next to its item.
  async function follow(messageId, draftId, who) {
    const deadline = Date.now() + 120000;
    while (Date.now() < deadline) {
      await new Promise(function (done) { setTimeout(done, 1000); });
      let state;
      try {
        const response = await fetch("/console/drafts/" + draftId + "/delivery", { credentials: "same-origin" });
        if (!response.ok) return;
        state = await response.json();
      } catch (error) {
        continue;
      }
      const shown = notes.get(messageId);
      if (shown) shown.el.dataset.delivery = state.status;
      if (state.status === "sent") { note(messageId, t("sent", { who: who })); return; }
      if (state.status === "failed") { note(messageId, t("failed", { who: who }), true, 120000); return; }
      if (state.retrying) note(messageId, t("retrying", { who: who }), false, null);
    }
  }

  function say(form, text, isError, keepMs) {
    const article = form && queue && form.closest("article.item");
    if (article) note(article.dataset.messageId, text, isError, keepMs);
    else if (form && form.isConnected) formNote(form, text, isError);
    else if (statusBar) {
      statusBar.textContent = text;
      statusBar.classList.toggle("error", Boolean(isError));
    }
  }

  async function send(form) {
    const body = new URLSearchParams(new FormData(form));
    const article = queue && form.closest("article.item");
    const who = customerOf(article);
    say(form, t("saving"), false, null);
    let response;
    try {
      response = await fetch(form.action, {
        method: "POST",
        body: body,
        credentials: "same-origin",
        headers: { "x-requested-with": "fetch" },
      });
    } catch (error) {
      say(form, t("network"), true, 120000);
      return false;
    }
    if (!response.ok) {
      let detail = response.status + " " + response.statusText;
      try {
        const data = await response.json();
        if (data && data.detail) detail = typeof data.detail === "string" ? data.detail : JSON.stringify(data.detail);
      } catch (error) { /* not JSON */ }
      say(form, plain(detail), true, 120000);
      return false;
    }
    let data = {};
    try { data = await response.json(); } catch (error) { /* a redirect's page */ }
    const approvedDraft = (form.action.match(/\/drafts\/(\d+)\/approve$/) || [])[1] || data.draft_id;
    if (article && approvedDraft) {
      const mine = form.classList.contains("reply-form");
      note(article.dataset.messageId, t(mine ? "replied" : "approved", { who: who }), false, null);
      follow(article.dataset.messageId, approvedDraft, who);
    } else if (article && form.classList.contains("reject")) say(form, t("rejected"));
    else if (article && form.classList.contains("dismiss")) say(form, t("dismissed"));
    else say(form, t("done"), false, 5000);
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
          kept.title = t("stale");
          nodes.push(kept);
          return;
        }
      }
      nodes.push(document.importNode(node, true));
    });
    const order = items().map(function (a) { return a.dataset.messageId; });
    notes.forEach(function (entry) { nodes.push(entry.el); }); // kept; placed below
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
    placeNotes(order);
    addEditButtons();
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

  // Editing a draft keeps its text: the cursor goes to the end, nothing is selected.
  function edit(draft) {
    const box = draft && draft.querySelector("textarea");
    if (!box) return;
    const article = draft.closest("article.item");
    if (article) { select(article); choose(article, Array.from(article.querySelectorAll(".draft")).indexOf(draft)); }
    box.focus();
    const end = box.value.length;
    box.setSelectionRange(end, end);
    box.scrollTop = box.scrollHeight;
    if (article) note(article.dataset.messageId, t("editing"), false, 8000);
  }

  function addEditButtons() {
    if (!queue) return;
    queue.querySelectorAll(".draft .actions").forEach(function (actions) {
      if (actions.querySelector("button.edit")) return;
      const button = document.createElement("button");
      button.type = "button";
      button.className = "edit";
      button.textContent = t("edit");
      const approve = actions.querySelector("button.approve");
      actions.insertBefore(button, approve);
    });
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
    if (event.target.matches && event.target.matches(".draft button.edit")) edit(event.target.closest(".draft"));
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
      e: function () { if (draft) edit(draft); },
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
      el.textContent = minutes >= 0 ? t("dueIn", { n: minutes }) : t("late", { n: -minutes });
      const article = el.closest("article.item");
      if (article && minutes < 0) { article.classList.remove("sla-ok", "sla-soon"); article.classList.add("sla-late"); }
    });
  }

  if (queue) {
    addEditButtons();
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
