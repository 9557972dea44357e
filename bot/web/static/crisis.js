// Keeps the crisis banner current on every console page: refetch the server-rendered
// (escaped) fragment every few seconds.
(function () {
  const banner = document.getElementById("crisis-banner");
  if (!banner) return;
  async function refresh() {
    try {
      const response = await fetch(banner.dataset.src, { credentials: "same-origin" });
      if (response.ok) {
        const html = await response.text();
        if (html !== banner.dataset.last) { banner.innerHTML = html; banner.dataset.last = html; }
      }
    } catch (e) { /* try again next round */ }
    setTimeout(refresh, 10000);
  }
  setTimeout(refresh, 10000);
})();
