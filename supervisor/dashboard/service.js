// /services/{name}: one service's history as pictures: latency (1 h / 24 h / 7 d) with its
// degraded threshold, failure rate, uptime bars (24 h hourly, 7 d hourly, 30 d daily), its
// incidents and state changes. Live: new checks redraw the charts (at most every 5 s).
"use strict";

const RANGES = {
  // null: the daemon picks (about 120 buckets, never finer than its rollup rows)
  latency: { "10m": null, "1h": "1m", "24h": "15m", "7d": "1h" },
  uptime: { "24h": "1h", "7d": "1h", "30d": "1d" },
};

function rangeButtons(kind, chosen, onPick) {
  const box = el("div", { class: "ranges", role: "group", "aria-label": `${kind} range` });
  for (const range of Object.keys(RANGES[kind])) {
    const b = el("button", { type: "button", "data-range": range, text: range,
                             "aria-pressed": String(range === chosen) });
    b.addEventListener("click", () => onPick(range));
    box.append(b);
  }
  return box;
}

async function servicePage(root, name) {
  document.title = `${name} · soulfra-supervisor`;
  const view = { latency: "1h", uptime: "24h" };
  const head = el("section", { class: "page-head" });
  const latency = el("section", { id: "latency-section" });
  const errorsBox = el("section", { id: "errors-section" });
  const uptime = el("section", { id: "uptime-section" });
  const history = el("div", { class: "columns" });
  root.replaceChildren(head, latency, errorsBox, uptime, history);

  async function drawHead() {
    const s = await getJSON(`/services/${encodeURIComponent(name)}`);
    if (s.error) {
      head.replaceChildren(el("h2", { text: name }), el("p", { class: "message error", text: s.error }));
      return false;
    }
    head.replaceChildren(
      el("p", {}, link("/", "← all services")),
      el("h2", {}, el("span", { text: name }), " ",
         el("span", { class: "state", "data-state": s.status, id: "service-state", text: s.status })),
      el("p", { class: "muted", text: `since ${ago(s.since)} · response time `
                + `${s.responseTime === null ? "–" : s.responseTime + " ms"}`
                + (s.correlationId ? ` · incident ${s.correlationId}` : "") }),
      s.correlationId ? el("p", {}, link(incidentHref(s.correlationId), "Open the incident →")) : "");
    history.replaceChildren(transitionsBox(s.transitions || []), await incidentsBox(name));
    return true;
  }

  async function drawLatency() {
    const bucket = RANGES.latency[view.latency];
    const q = `since=${view.latency}${bucket ? `&bucket=${bucket}` : ""}`;
    const [lat, err] = await Promise.all([
      getJSON(`/services/${encodeURIComponent(name)}/series?metric=latency&${q}`),
      getJSON(`/services/${encodeURIComponent(name)}/series?metric=errors&${q}`)]);
    latency.replaceChildren(
      el("div", { class: "section-head" }, el("h3", { text: `Response time, last ${view.latency}` }),
         rangeButtons("latency", view.latency, (r) => { view.latency = r; drawLatency(); })),
      lat.points ? latencyChart(lat.points, lat.degradedThresholdMs, lat.bucketMs,
                                `Response time of ${name}`) : el("p", { text: lat.error }),
      el("p", { class: "muted legend" },
         el("span", { class: "key line" }), " average ", el("span", { class: "key band" }),
         " min–max ", el("span", { class: "key threshold" }), " degraded threshold ",
         el("span", { class: "key fail" }), " failed checks"));
    errorsBox.replaceChildren(
      el("h3", { text: `Failed checks, last ${view.latency}` }),
      err.points ? errorChart(err.points, err.bucketMs, `Failure rate of ${name}`) : "");
  }

  async function drawUptime() {
    const bucket = RANGES.uptime[view.uptime];
    const up = await getJSON(`/services/${encodeURIComponent(name)}/series?metric=uptime`
                             + `&since=${view.uptime}&bucket=${bucket}`);
    uptime.replaceChildren(
      el("div", { class: "section-head" },
         el("h3", { text: `Uptime, last ${view.uptime}: `
                    + (up.uptime === null || up.uptime === undefined ? "no data"
                      : `${up.uptime.toFixed(2)}%`) }),
         rangeButtons("uptime", view.uptime, (r) => { view.uptime = r; drawUptime(); })),
      up.points ? uptimeBars(up.points, `Uptime of ${name} per ${bucket}`) : "",
      el("p", { class: "muted legend" },
         el("span", { class: "key up" }), " up ", el("span", { class: "key degraded" }),
         " slow ", el("span", { class: "key down" }), " outage ",
         el("span", { class: "key maintenance" }), " maintenance (not counted) ",
         el("span", { class: "key unknown" }), " no data"));
  }

  if (!(await drawHead())) return;
  await Promise.all([drawLatency(), drawUptime()]);
  const charts = throttle(() => { drawLatency(); }, 5000);
  const states = throttle(() => { drawHead(); drawUptime(); }, 1000);
  connectStream("state_changed,check_result,recovery_finished", {
    check_result(ev) { if (ev.service === name) charts(); },
    state_changed(ev) { if (ev.service === name) states(); },
    recovery_finished(ev) { if (ev.service === name) states(); },
  }, () => {}, states);
  onReconnect.push(states, charts);
}

function transitionsBox(transitions) {
  const list = el("ul", { class: "list compact", id: "transitions" });
  for (const t of transitions.slice(0, 30)) {
    list.append(el("li", {}, el("span", { class: "when", text: stamp(t.at) }),
      el("span", { class: "state", "data-state": t.to, text: t.to }), ` from ${t.from} `,
      el("span", { class: "muted", text: t.reason || "" }), " ",
      t.correlationId ? link(incidentHref(t.correlationId), "incident") : ""));
  }
  return el("section", {}, el("h3", { text: "State changes" }), list);
}

async function incidentsBox(name) {
  const data = await getJSON(`/incidents?since=30d&limit=20&service=${encodeURIComponent(name)}`);
  const list = el("ul", { class: "list", id: "service-incidents" });
  for (const i of data.incidents || []) {
    list.append(el("li", {}, el("span", { class: "when", text: stamp(i.startedAt) }),
      el("span", { class: `tag ${i.status === "open" ? "failed" : "recovered"}`, text: i.status }),
      " ", link(incidentHref(i.id), i.message),
      i.repairMs !== null ? el("span", { class: "muted", text: ` repaired in ${duration(i.repairMs)}` }) : ""));
  }
  if (!list.children.length) list.append(el("li", { class: "muted", text: "No incidents in 30 days." }));
  return el("section", {}, el("h3", { text: "Incidents (30 days)" }), list);
}
