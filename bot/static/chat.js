// Web chat: send with a client id (so a retried send is stored once), poll for replies.
// Text is always inserted with textContent, never as HTML.
(function () {
  const log = document.getElementById("log");
  const form = document.getElementById("send");
  const input = document.getElementById("text");
  const status = document.getElementById("status");
  let after = 0;

  function clientId() {
    const bytes = new Uint8Array(16);
    crypto.getRandomValues(bytes);
    return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
  }

  function show(message) {
    const li = document.createElement("li");
    li.className = message.direction === "out" ? "bot" : "me";
    li.dataset.id = message.id;
    li.textContent = message.text;
    log.appendChild(li);
    log.scrollTop = log.scrollHeight;
  }

  async function poll() {
    try {
      const response = await fetch("/chat/api/messages?after=" + after, { credentials: "same-origin" });
      if (response.ok) {
        const data = await response.json();
        for (const message of data.messages) {
          show(message);
          after = Math.max(after, message.id);
        }
      }
    } catch (e) { /* offline for a moment; try again */ }
    setTimeout(poll, 1500);
  }

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const text = input.value.trim();
    if (!text) return;
    const body = JSON.stringify({ text: text, client_id: clientId() });
    for (let attempt = 0; attempt < 3; attempt++) {
      try {
        const response = await fetch("/chat/api/messages", {
          method: "POST", credentials: "same-origin",
          headers: { "Content-Type": "application/json" }, body: body,
        });
        if (response.ok) { input.value = ""; status.textContent = ""; return; }
        const data = await response.json().catch(() => ({}));
        status.textContent = data.error || "Could not send, please try again.";
        if (response.status < 500) return;
      } catch (e) { status.textContent = "Connection lost, retrying…"; }
      await new Promise((r) => setTimeout(r, 1000 * (attempt + 1)));
    }
  });
  poll();
})();
