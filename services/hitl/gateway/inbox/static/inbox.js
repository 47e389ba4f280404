// hitl inbox: live updates and ticking times. No library; every HTML fragment inserted here
// was rendered and escaped by the server's templates.
"use strict";
(function () {
  const body = document.body;
  const status = document.getElementById("live-status");
  const say = (text) => { if (status) status.textContent = text; };

  function duration(seconds) {
    const s = Math.max(0, Math.floor(seconds));
    if (s < 60) return s + " s";
    if (s < 3600) return Math.floor(s / 60) + " min";
    const h = Math.floor(s / 3600), m = Math.floor(s / 60) % 60;
    if (s < 86400) return m ? h + " h " + m + " min" : h + " h";
    const d = Math.floor(s / 86400), hh = h % 24;
    return hh ? d + " d " + hh + " h" : d + " d";
  }

  function tick() {
    const now = Date.now() / 1000;
    document.querySelectorAll("[data-since]").forEach((el) => {
      el.textContent = duration(now - Number(el.dataset.since));
    });
    document.querySelectorAll("[data-until]").forEach((el) => {
      el.textContent = duration(Number(el.dataset.until) - now);
    });
  }

  function listUpdates(source) {
    const items = document.getElementById("items");
    const empty = document.getElementById("empty");
    const refresh = () => { if (empty) empty.hidden = items.children.length > 0; };
    source.addEventListener("row", (e) => {
      const tmp = document.createElement("template");
      tmp.innerHTML = e.data.trim();
      const row = tmp.content.firstElementChild;
      if (!row || document.getElementById(row.id)) return;
      if (body.dataset.order === "oldest") {
        if (body.dataset.more) return; // it belongs on a later page
        items.append(row);
      } else {
        items.prepend(row);
      }
      refresh();
      say("New: " + (row.querySelector(".prompt") || row).textContent.trim());
    });
    source.addEventListener("gone", (e) => {
      const row = document.getElementById("i-" + e.data);
      if (!row) return;
      const what = (row.querySelector(".prompt") || row).textContent.trim();
      row.remove();
      refresh();
      say("Decided, left the list: " + what);
    });
    source.addEventListener("reset", () => window.location.reload());
  }

  async function reread(final) {
    const response = await fetch(window.location.pathname, { credentials: "same-origin" });
    if (!response.ok) return;
    const fresh = new DOMParser().parseFromString(await response.text(), "text/html");
    const swap = (id) => {
      const mine = document.getElementById(id), theirs = fresh.getElementById(id);
      if (mine && theirs) mine.replaceWith(theirs);
      else if (mine) mine.remove();
    };
    swap("status");
    swap("status-value");
    if (final) {
      swap("answer");
      say((fresh.getElementById("outcome-line") || {}).textContent || "Decided");
    }
  }

  function detailUpdates(source) {
    source.addEventListener("changed", (e) => {
      const final = e.data === "final";
      reread(final);
      if (final) source.close();
    });
    source.addEventListener("reset", () => reread(false));
  }

  const live = body.dataset.live;
  if (live && window.EventSource) {
    const source = new EventSource(live);
    source.addEventListener("open", () => { body.dataset.stream = "open"; });
    source.addEventListener("error", () => { body.dataset.stream = "reconnecting"; });
    if (body.dataset.page === "list") listUpdates(source);
    if (body.dataset.page === "detail") detailUpdates(source);
  }
  const summary = document.getElementById("error-summary");
  if (summary) summary.focus();
  window.setInterval(tick, 15000);
})();
