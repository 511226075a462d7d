// The status page is complete without this. With it, the page's content is fetched again when
// the event stream says a state changed or someone posted an update (instead of waiting for
// the 60 s refresh).
"use strict";

(function live() {
  if (!window.EventSource || !window.fetch) return;
  let timer = null;
  async function refresh() {
    timer = null;
    const resp = await fetch("/status", { cache: "no-store" });
    if (!resp.ok) return;
    const doc = new DOMParser().parseFromString(await resp.text(), "text/html");
    const fresh = doc.getElementById("status");
    if (fresh) document.getElementById("status").replaceWith(fresh);
  }
  const source = new EventSource("/api/monitoring/events?types=state_changed,incident_updated");
  for (const type of ["state_changed", "incident_updated"]) {
    source.addEventListener(type, () => { if (!timer) timer = setTimeout(refresh, 1000); });
  }
})();
