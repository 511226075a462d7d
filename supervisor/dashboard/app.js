// The dashboard's overview: a snapshot from the REST API, then live over the event stream (no
// reloads); and the router that draws the page the address names (service.js, incident.js,
// errors.js). With 1,000 services the table is paged and filtered: only one page is in the DOM.
"use strict";

const KEEP = { errors: 50, recoveries: 30, events: 40, history: 30 };
const PAGE_SIZE = 50;
const table = { page: 0, filter: "", problemsFirst: true };

const model = {
  services: new Map(),   // name -> {status, responseTime, since (s), lastFailure, correlationId, history}
  errors: new Map(),     // error id -> error (API shape)
  recoveries: new Map(), // recovery id -> {id, service, action, status, message, at, attempts}
  events: [],            // newest first: {at, service, text}
  health: null,
  overhead: null,       // the overhead budget (/status → overhead), kept current by events
};

// Helpers (el, ago, clock, getJSON, postJSON, the stream) are in common.js.

function service(name) {
  let s = model.services.get(name);
  if (!s) {
    s = { status: "unknown", responseTime: null, since: null, lastFailure: null,
          correlationId: null, history: [] };
    model.services.set(name, s);
  }
  return s;
}

function addEvent(at, svc, text, correlationId = null) {
  model.events.unshift({ at, service: svc, text, correlationId });
  model.events.length = Math.min(model.events.length, KEEP.events);
}

// -- snapshot --------------------------------------------------------------------------------
async function loadSnapshot() {
  const [services, history, errors] = await Promise.all([
    getJSON("/services"), getJSON("/history"), getJSON("/errors?since=24h&limit=50")]);
  model.services.clear();
  for (const [name, s] of Object.entries(services.services || {})) {
    model.services.set(name, {
      status: s.status, responseTime: s.responseTime, since: s.since,
      lastFailure: s.lastFailure, correlationId: s.correlationId,
      history: (history.services || {})[name] || [],
    });
  }
  model.errors.clear();
  for (const e of errors.errors || []) model.errors.set(e.id, e);
  await loadHealth();
  try {
    model.overhead = (await getJSON("/status")).overhead || null;
  } catch (e) { model.overhead = null; }
  render();
}

let healthTimer = null;
async function loadHealth() {
  try {
    model.health = await getJSON("/health");
  } catch (e) { /* the stream's warning says the daemon is away */ }
}
function refreshHealthSoon() {
  clearTimeout(healthTimer);
  healthTimer = setTimeout(() => loadHealth().then(render), 300);
}

// -- events ----------------------------------------------------------------------------------
const handlers = {
  state_changed(ev) {
    const s = service(ev.service);
    const d = ev.data;
    s.status = d.state;
    s.since = ev.at;
    s.correlationId = DOWN.has(d.state) ? ev.correlationId : null;
    if (d.result) s.lastFailure = d.result;
    if (!DOWN.has(d.state) && ev.correlationId) {
      for (const e of model.errors.values()) {
        if (e.correlationId === ev.correlationId && !e.recovered) {
          e.recovered = true;
          e.status = "resolved";
        }
      }
    }
    addEvent(ev.at, ev.service, `${d.previous} → ${d.state}${d.reason ? ": " + d.reason : ""}`,
             ev.correlationId);
    refreshHealthSoon();
  },
  error_recorded(ev) {
    const e = ev.data.error;
    if (e && !model.errors.has(e.id)) model.errors.set(e.id, e);
  },
  recovery_started(ev) {
    const d = ev.data;
    model.recoveries.set(d.id, { id: d.id, service: ev.service, action: d.action,
                                 correlationId: ev.correlationId,
                                 requestedBy: d.requestedBy, status: "running", at: ev.at,
                                 message: "started", attempts: 0 });
  },
  recovery_attempt(ev) {
    const r = model.recoveries.get(ev.data.id);
    if (r) {
      r.attempts += 1;
      r.message = `${ev.data.strategy} attempt ${ev.data.attempt}: ${ev.data.message || ""}`;
    }
  },
  recovery_finished(ev) {
    const d = ev.data;
    const r = model.recoveries.get(d.id) || { id: d.id, service: ev.service, at: ev.at,
                                              action: "", attempts: 0 };
    Object.assign(r, { status: d.status, message: d.message, durationMs: d.durationMs,
                       requestedBy: d.requestedBy });
    model.recoveries.set(d.id, r);
  },
  recovery_skipped(ev) {
    model.recoveries.set(ev.data.id, { id: ev.data.id, service: ev.service, at: ev.at,
                                       action: "auto", status: "skipped",
                                       message: ev.data.reason, attempts: 0 });
  },
  check_error(ev) {
    addEvent(ev.at, ev.service, `check ${ev.data.check} crashed: ${ev.data.message}`);
  },
  alert_delivery(ev) {
    const d = ev.data;
    addEvent(ev.at, ev.service, `alert via ${d.channel}: ${d.outcome}`, ev.correlationId);
  },
  daemon_error(ev) {
    // The daemon's own errors (supervisor/selfwatch.py): listed with the services' errors.
    const e = ev.data.error;
    if (e && !model.errors.has(e.id)) {
      model.errors.set(e.id, { ...e, service: ev.service || "supervisor", recovered: false,
                               status: "pending" });
    }
  },
  // The overhead budget (supervisor/observability/overhead.py) stretched or restored intervals.
  overhead_exceeded(ev) { model.overhead = { ...ev.data, state: "stretched" }; },
  overhead_adjusted(ev) { model.overhead = { ...ev.data, state: "stretched" }; },
  overhead_restored(ev) {
    model.overhead = { ...ev.data, state: "within" };
    addEvent(ev.at, null, "monitoring overhead back under its limit: configured intervals");
  },
  check_result(ev) {
    if (!model.services.has(ev.service)) return;
    const s = service(ev.service);
    const r = ev.data;
    s.history.push({ at: ev.at * 1000, check: r.check, kind: r.kind, ok: r.ok,
                     latencyMs: r.latencyMs });
    if (s.history.length > KEEP.history) s.history.splice(0, s.history.length - KEEP.history);
    if (r.type === "http" || r.type === "tcp") s.responseTime = Math.round(r.latencyMs);
  },
};

// Events of other parts of the daemon: shown in "Recent events" with their own words.
const OTHER = ["config_reloaded", "breaker_closed", "recovery_undone", "service_paused",
               "service_resumed", "report_written", "store_recovered"];
for (const type of OTHER) {
  handlers[type] = (ev) => {
    const d = ev.data || {};
    const said = d.message || d.reason || d.summary || d.path || "";
    addEvent(ev.at, ev.service, `${type.replace(/_/g, " ")}${said ? ": " + said : ""}`);
  };
}

let renderQueued = false;
function renderSoon() {
  if (renderQueued) return;
  renderQueued = true;
  requestAnimationFrame(() => { renderQueued = false; render(); });
}

function connect() {
  connectStream("*,check_result", handlers, renderSoon, () => {
    // The daemon restarted or we were away too long: start again from a fresh snapshot.
    model.recoveries.clear();
    model.events = [];
    loadSnapshot();
  });
  onReconnect.push(loadSnapshot);  // the daemon may have changed while we were away
}

// -- rendering -------------------------------------------------------------------------------
function render() {
  renderHeader();
  renderOverhead();
  renderServices();
  renderIncidents();
  renderErrors();
  renderRecoveries();
  renderEvents();
}

function renderHeader() {
  const h = model.health;
  const overall = document.getElementById("overall");
  overall.textContent = h ? h.status : "…";
  overall.dataset.status = h ? h.status : "unknown";
  document.getElementById("summary").textContent = h
    ? `uptime ${h.uptime} · ${h.recentErrors} error(s) in the last hour · `
      + `${h.autoRecoveries} automatic recoveries`
    : "";
}

function renderOverhead() {
  const o = model.overhead;
  const box = document.getElementById("overhead-warning");
  box.hidden = !o || o.state !== "stretched";
  if (!box.hidden) {
    box.textContent = `Monitoring overhead ${o.cpuPercent} % of a core is over its limit of `
      + `${o.limitPercent} %: the intervals of ${o.stretchedServices} non-critical service(s) `
      + `are stretched ×${o.stretch} (critical ones keep theirs).`;
  }
}

function strip(history) {
  const box = el("div", { class: "strip" });
  const max = Math.max(1, ...history.map((r) => r.latencyMs || 0));
  for (const r of history) {
    const cls = !r.ok ? "bad" : r.kind === "degraded" ? "degraded" : "";
    // A failure is drawn full height, so it stands out whatever its latency was.
    const height = !r.ok ? 22 : 4 + Math.round(18 * (r.latencyMs || 0) / max);
    const bar = el("span", { class: cls,
                             title: `${r.check}: ${r.kind}, ${r.latencyMs} ms, `
                                    + `${clock(r.at / 1000)}` });
    bar.style.height = `${height}px`;
    box.append(bar);
  }
  return box;
}

function visibleServices() {
  const needle = table.filter.trim().toLowerCase();
  let names = [...model.services.keys()];
  if (needle) names = names.filter((n) => n.toLowerCase().includes(needle));
  const rank = (n) => (DOWN.has(model.services.get(n).status) ? 0
    : model.services.get(n).status === "healthy" ? 2 : 1);
  names.sort((a, b) => (table.problemsFirst ? rank(a) - rank(b) : 0) || a.localeCompare(b));
  return names;
}

function renderServices() {
  const body = document.querySelector("#services tbody");
  body.replaceChildren();
  const names = visibleServices();
  document.getElementById("no-services").hidden = model.services.size > 0;
  const pageCount = Math.max(1, Math.ceil(names.length / PAGE_SIZE));
  table.page = Math.min(table.page, pageCount - 1);
  for (const name of names.slice(table.page * PAGE_SIZE, (table.page + 1) * PAGE_SIZE)) {
    const s = model.services.get(name);
    const failure = s.lastFailure && DOWN.has(s.status) ? s.lastFailure.message : "";
    const button = el("button", { class: "recover", "data-service": name, text: "Recover…",
                                  "aria-label": `Recover ${name}…` });
    button.addEventListener("click", () => openRecover(name));
    body.append(el("tr", { "data-service": name },
      el("td", { class: "name" }, link(serviceHref(name), name)),
      el("td", {}, el("span", { class: "state", "data-state": s.status, text: s.status })),
      el("td", { class: "num latency",
                 text: s.responseTime === null || s.responseTime === undefined
                   ? "–" : `${s.responseTime} ms` }),
      el("td", { class: "since", "data-since": s.since || "", text: ago(s.since) }),
      el("td", {}, strip(s.history)),
      el("td", { class: "failure", title: failure },
         s.correlationId ? link(incidentHref(s.correlationId), failure || "incident") : failure),
      el("td", {}, button)));
  }
  pages(document.getElementById("services-pager"), names.length, PAGE_SIZE, table.page,
        (p) => { table.page = p; renderServices(); });
  document.getElementById("services-count").textContent =
    `${names.length} of ${model.services.size} service(s)`;
}

function setupTable() {
  const filter = document.getElementById("services-filter");
  filter.addEventListener("input", () => { table.filter = filter.value; table.page = 0; renderServices(); });
}

function renderIncidents() {
  const list = document.getElementById("incidents");
  list.replaceChildren();
  const open = [...model.services.entries()].filter(([, s]) => DOWN.has(s.status));
  document.getElementById("no-incidents").hidden = open.length > 0;
  for (const [name, s] of open) {
    list.append(el("li", { "data-service": name },
      el("span", { class: "state", "data-state": s.status, text: s.status }), " ",
      link(serviceHref(name), name), " ",
      el("span", { class: "when", text: `since ${ago(s.since)}` }),
      s.correlationId ? link(incidentHref(s.correlationId), s.correlationId, { class: "tag" }) : "",
      s.lastFailure ? el("span", { text: s.lastFailure.message }) : ""));
  }
}

function renderErrors() {
  const list = document.getElementById("errors");
  list.replaceChildren();
  const errors = [...model.errors.values()].sort((a, b) => b.timestamp - a.timestamp)
    .slice(0, KEEP.errors);
  document.getElementById("no-errors").hidden = errors.length > 0;
  for (const e of errors) {
    list.append(el("li", { "data-error": e.id },
      el("span", { class: "when", text: clock(e.timestamp / 1000) }),
      el("span", { class: `tag ${e.severity}`, text: e.severity }),
      el("span", { class: "tag", text: e.category }),
      el("strong", { text: e.service }), " ",
      e.fingerprint ? link(groupHref(e.fingerprint), e.message) : e.message, " ",
      e.recovered
        ? el("span", { class: "tag recovered",
                       text: `recovered${e.recoveryTime ? ` in ${(e.recoveryTime / 1000).toFixed(1)} s` : ""}` })
        : el("span", { class: "tag failed", text: e.status || "pending" }),
      " ", e.correlationId ? link(incidentHref(e.correlationId), "incident") : ""));
  }
}

function renderRecoveries() {
  const list = document.getElementById("recoveries");
  list.replaceChildren();
  const runs = [...model.recoveries.values()].sort((a, b) => b.at - a.at)
    .slice(0, KEEP.recoveries);
  document.getElementById("no-recoveries").hidden = runs.length > 0;
  for (const r of runs) {
    list.append(el("li", { "data-recovery": r.id, "data-status": r.status },
      el("span", { class: "when", text: clock(r.at) }),
      el("span", { class: `tag ${r.status}`, text: r.status }),
      el("strong", { text: r.service }), ` ${r.action || ""} `,
      el("span", { class: "muted", text: `${r.id} · ${r.requestedBy || ""} · ${r.message || ""}` }),
      " ", r.correlationId ? link(incidentHref(r.correlationId), "incident") : ""));
  }
}

function renderEvents() {
  const list = document.getElementById("events");
  list.replaceChildren();
  for (const e of model.events) {
    list.append(el("li", {}, el("span", { class: "when", text: clock(e.at) }),
      el("strong", { text: e.service || "" }), ` ${e.text} `,
      e.correlationId ? link(incidentHref(e.correlationId), "incident") : ""));
  }
}

// -- the recover dialog ------------------------------------------------------------------------
const dialog = () => document.getElementById("recover-dialog");
let recoverTarget = null;

function message(text, isError = false) {
  const m = document.getElementById("recover-message");
  m.textContent = text;
  m.classList.toggle("error", isError);
}

// Each plan request and each run bumps this, so a late answer never overwrites a newer one.
let dialogSeq = 0;

async function planRecovery() {
  const seq = ++dialogSeq;
  const confirm = document.getElementById("recover-confirm");
  const planList = document.getElementById("recover-plan");
  confirm.disabled = true;
  planList.replaceChildren();
  message("Asking the daemon for the plan…");
  const { status, data } = await postJSON("/recover", {
    action: document.getElementById("recover-action").value, target: recoverTarget,
    force: document.getElementById("recover-force").checked, dryRun: true });
  if (seq !== dialogSeq) return;
  if (status === 401) {
    document.getElementById("token-row").hidden = false;
    message("This daemon needs its API token for recoveries.", true);
    return;
  }
  if (status !== 200) {
    message(data.error || `HTTP ${status}`, true);
    return;
  }
  for (const step of data.plan || []) {
    planList.append(el("li", { class: "step" },
      el("strong", { text: step.strategy }),
      ` (${step.attempts} attempt${step.attempts === 1 ? "" : "s"}): ${step.does}`));
  }
  message(data.plan && data.plan.length ? "Nothing has been done yet." : "The plan is empty.");
  confirm.disabled = false;
}

function openRecover(name) {
  recoverTarget = name;
  document.getElementById("recover-service").textContent = name;
  document.getElementById("recover-force").checked =
    service(name).status === "gave_up";
  document.getElementById("recover-token").value = token();
  dialog().showModal();
  planRecovery();
}

async function runRecovery(event) {
  event.preventDefault();
  const seq = ++dialogSeq;
  const confirm = document.getElementById("recover-confirm");
  confirm.disabled = true;
  message("Starting…");
  const { status, data } = await postJSON("/recover", {
    action: document.getElementById("recover-action").value, target: recoverTarget,
    force: document.getElementById("recover-force").checked });
  if (seq !== dialogSeq) return;
  if (status === 202) {
    message(`Recovery ${data.id} ${data.alreadyRunning ? "was already running" : "started"}.`);
    setTimeout(() => dialog().close(), 1200);
  } else {
    if (status === 401) document.getElementById("token-row").hidden = false;
    message(data.error || `HTTP ${status}`, true);
    confirm.disabled = false;
  }
}

function setupDialog() {
  document.getElementById("recover-action").addEventListener("change", planRecovery);
  document.getElementById("recover-force").addEventListener("change", planRecovery);
  document.getElementById("recover-token").addEventListener("change", (e) => {
    if (e.target.value === token()) return;  // e.g. the field losing focus on "Run recovery"
    sessionStorage.setItem("soulfra-token", e.target.value);
    planRecovery();
  });
  document.getElementById("recover-confirm").addEventListener("click", runRecovery);
  document.getElementById("recover-cancel").addEventListener("click", (e) => {
    e.preventDefault();
    dialog().close();
  });
}

// -- start: the page the address names ------------------------------------------------------
function route() {
  const params = new URLSearchParams(location.search);
  // Alert links use /?service=…&incident=… (linkTemplate): open the incident's own page.
  if (location.pathname === "/" && params.get("incident")) {
    history.replaceState(null, "", incidentHref(params.get("incident")));
  } else if (location.pathname === "/" && params.get("service")) {
    history.replaceState(null, "", serviceHref(params.get("service")));
  }
  const parts = location.pathname.split("/").filter(Boolean).map(decodeURIComponent);
  const page = document.getElementById("page");
  for (const a of document.querySelectorAll("header nav a")) {
    a.toggleAttribute("aria-current", a.getAttribute("href") === `/${parts[0] || ""}`);
  }
  page.hidden = false;
  loadHealth().then(renderHeader);
  if (parts[0] === "services" && parts[1]) return servicePage(page, parts[1]);
  if (parts[0] === "incidents" && parts[1]) return incidentPage(page, parts[1]);
  if (parts[0] === "errors" && parts[1]) return groupPage(page, parts[1]);
  if (parts[0] === "errors") return groupsPage(page);
  page.hidden = true;
  document.getElementById("overview").hidden = false;
  clusterPanel(document.getElementById("overview"));
  setupDialog();
  setupTable();
  setInterval(() => {
    for (const cell of document.querySelectorAll("td.since")) {
      cell.textContent = ago(Number(cell.dataset.since));
    }
  }, 5000);
  return loadSnapshot().catch(() => setConnected(false)).finally(connect);
}

setupTheme();
window.soulfraReady = Promise.resolve(route()).then(() => {
  document.body.dataset.ready = "true";
});
