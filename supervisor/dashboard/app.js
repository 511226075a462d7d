// The dashboard: a snapshot from the REST API, then live over the event stream (no reloads).
"use strict";

const API = "/api/monitoring";
const DOWN = new Set(["failing", "recovering", "gave_up"]);
const KEEP = { errors: 50, recoveries: 30, events: 40, history: 30 };

const model = {
  services: new Map(),   // name -> {status, responseTime, since (s), lastFailure, correlationId, history}
  errors: new Map(),     // error id -> error (API shape)
  recoveries: new Map(), // recovery id -> {id, service, action, status, message, at, attempts}
  events: [],            // newest first: {at, service, text}
  health: null,
  overhead: null,       // the overhead budget (/status → overhead), kept current by events
};

// -- helpers ---------------------------------------------------------------------------------
function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === null || v === undefined || v === false) continue;
    if (k === "class") node.className = v;
    else if (k === "text") node.textContent = v;
    else node.setAttribute(k, v === true ? "" : v);
  }
  for (const c of children) node.append(c);
  return node;
}

function ago(seconds) {
  if (!seconds) return "";
  const d = Math.max(0, Date.now() / 1000 - seconds);
  if (d < 60) return `${Math.round(d)} s ago`;
  if (d < 3600) return `${Math.round(d / 60)} min ago`;
  if (d < 86400) return `${(d / 3600).toFixed(1)} h ago`;
  return `${(d / 86400).toFixed(1)} d ago`;
}

function clock(seconds) {
  return new Date(seconds * 1000).toLocaleTimeString();
}

function token() { return sessionStorage.getItem("soulfra-token") || ""; }

async function getJSON(path) {
  const resp = await fetch(API + path, { headers: { Accept: "application/json" } });
  return resp.json();
}

async function postJSON(path, body) {
  const headers = { "Content-Type": "application/json", "X-Requested-By": "dashboard" };
  if (token()) headers.Authorization = `Bearer ${token()}`;
  const resp = await fetch(API + path, { method: "POST", headers, body: JSON.stringify(body) });
  let data = null;
  try { data = await resp.json(); } catch (e) { data = { error: `HTTP ${resp.status}` }; }
  return { status: resp.status, data };
}

function service(name) {
  let s = model.services.get(name);
  if (!s) {
    s = { status: "unknown", responseTime: null, since: null, lastFailure: null,
          correlationId: null, history: [] };
    model.services.set(name, s);
  }
  return s;
}

function addEvent(at, svc, text) {
  model.events.unshift({ at, service: svc, text });
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
    addEvent(ev.at, ev.service, `${d.previous} → ${d.state}${d.reason ? ": " + d.reason : ""}`);
    refreshHealthSoon();
  },
  error_recorded(ev) {
    const e = ev.data.error;
    if (e && !model.errors.has(e.id)) model.errors.set(e.id, e);
  },
  recovery_started(ev) {
    const d = ev.data;
    model.recoveries.set(d.id, { id: d.id, service: ev.service, action: d.action,
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
    addEvent(ev.at, ev.service, `alert via ${d.channel}: ${d.outcome}`);
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
  // lastEventId=0 replays the daemon's ring buffer (recent recoveries and transitions); on a
  // reconnect the browser sends Last-Event-ID itself and only what was missed comes again.
  const source = new EventSource(`${API}/events?types=*,check_result&lastEventId=0`);
  source.onopen = () => setConnected(true);
  source.onerror = () => setConnected(source.readyState === EventSource.OPEN);
  source.addEventListener("resync", () => {
    // The daemon restarted or we were away too long: start again from a fresh snapshot.
    model.recoveries.clear();
    model.events = [];
    loadSnapshot();
  });
  for (const type of Object.keys(handlers)) {
    source.addEventListener(type, (msg) => {
      setConnected(true);
      handlers[type](JSON.parse(msg.data));
      renderSoon();
    });
  }
  source.onmessage = () => setConnected(true);
  window.soulfraSource = source;
  // EventSource reports a drop only through onerror; poll readyState as well, so the warning
  // also shows when the browser gave up without telling.
  setInterval(() => setConnected(source.readyState === EventSource.OPEN), 1000);
}

let wasConnected = null;
function setConnected(ok) {
  if (ok === wasConnected) return;
  const reconnected = ok && wasConnected === false;
  wasConnected = ok;
  document.getElementById("stream-warning").hidden = ok;
  const live = document.getElementById("live");
  live.dataset.connected = String(ok);
  live.textContent = ok ? "live" : "disconnected";
  if (reconnected) loadSnapshot();  // the daemon may have changed while we were away
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

function renderServices() {
  const body = document.querySelector("#services tbody");
  body.replaceChildren();
  const names = [...model.services.keys()].sort();
  document.getElementById("no-services").hidden = names.length > 0;
  for (const name of names) {
    const s = model.services.get(name);
    const failure = s.lastFailure && DOWN.has(s.status) ? s.lastFailure.message : "";
    const button = el("button", { class: "recover", "data-service": name, text: "Recover…" });
    button.addEventListener("click", () => openRecover(name));
    body.append(el("tr", { "data-service": name },
      el("td", { class: "name", text: name }),
      el("td", {}, el("span", { class: "state", "data-state": s.status, text: s.status })),
      el("td", { class: "num latency",
                 text: s.responseTime === null || s.responseTime === undefined
                   ? "–" : `${s.responseTime} ms` }),
      el("td", { class: "since", "data-since": s.since || "", text: ago(s.since) }),
      el("td", {}, strip(s.history)),
      el("td", { class: "failure", title: failure, text: failure }),
      el("td", {}, button)));
  }
}

function renderIncidents() {
  const list = document.getElementById("incidents");
  list.replaceChildren();
  const open = [...model.services.entries()].filter(([, s]) => DOWN.has(s.status));
  document.getElementById("no-incidents").hidden = open.length > 0;
  for (const [name, s] of open) {
    list.append(el("li", { "data-service": name },
      el("span", { class: "state", "data-state": s.status, text: s.status }), " ",
      el("strong", { text: name }), " ",
      el("span", { class: "when", text: `since ${ago(s.since)}` }),
      el("span", { class: "tag", text: s.correlationId || "" }),
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
      el("strong", { text: e.service }), ` ${e.message} `,
      e.recovered
        ? el("span", { class: "tag recovered",
                       text: `recovered${e.recoveryTime ? ` in ${(e.recoveryTime / 1000).toFixed(1)} s` : ""}` })
        : el("span", { class: "tag failed", text: e.status || "pending" })));
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
      el("span", { class: "muted", text: `${r.id} · ${r.requestedBy || ""} · ${r.message || ""}` })));
  }
}

function renderEvents() {
  const list = document.getElementById("events");
  list.replaceChildren();
  for (const e of model.events) {
    list.append(el("li", {}, el("span", { class: "when", text: clock(e.at) }),
      el("strong", { text: e.service || "" }), ` ${e.text}`));
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

// -- start -----------------------------------------------------------------------------------
setupDialog();
setInterval(() => {
  for (const cell of document.querySelectorAll("td.since")) {
    cell.textContent = ago(Number(cell.dataset.since));
  }
}, 5000);
loadSnapshot().catch(() => setConnected(false)).finally(connect);
