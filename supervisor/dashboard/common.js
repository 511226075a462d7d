// Shared by every page of the dashboard: DOM and time helpers, the API, the event stream.
"use strict";

const API = "/api/monitoring";
const DOWN = new Set(["failing", "recovering", "gave_up"]);

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

function stamp(ms) {
  return ms ? new Date(ms).toLocaleString() : "–";
}

function duration(ms) {
  if (ms === null || ms === undefined) return "–";
  if (ms < 1000) return `${Math.round(ms)} ms`;
  const s = ms / 1000;
  if (s < 90) return `${s.toFixed(1)} s`;
  if (s < 5400) return `${(s / 60).toFixed(1)} min`;
  if (s < 172800) return `${(s / 3600).toFixed(1)} h`;
  return `${(s / 86400).toFixed(1)} d`;
}

function token() { return sessionStorage.getItem("soulfra-token") || ""; }

async function getJSON(path) {
  const resp = await fetch(API + path, { headers: { Accept: "application/json" } });
  return resp.json();
}

async function sendJSON(method, path, body) {
  const headers = { "Content-Type": "application/json", "X-Requested-By": "dashboard" };
  if (token()) headers.Authorization = `Bearer ${token()}`;
  const resp = await fetch(API + path, { method, headers, body: JSON.stringify(body) });
  let data = null;
  try { data = await resp.json(); } catch (e) { data = { error: `HTTP ${resp.status}` }; }
  return { status: resp.status, data };
}

function postJSON(path, body) { return sendJSON("POST", path, body); }

// Ask for the API token once when the daemon wants it, then retry the same request.
async function withToken(send) {
  let answer = await send();
  if (answer.status === 401) {
    const given = window.prompt("This daemon needs its API token (SOULFRA_API_TOKEN):");
    if (given) {
      sessionStorage.setItem("soulfra-token", given);
      answer = await send();
    }
  }
  return answer;
}

function link(href, text, attrs = {}) {
  return el("a", { href, ...attrs, text });
}

const serviceHref = (name) => `/services/${encodeURIComponent(name)}`;
const incidentHref = (id) => `/incidents/${encodeURIComponent(id)}`;
const groupHref = (fp) => `/errors/${encodeURIComponent(fp)}`;

// A pager for long lists (1,000 services): previous / next and where we are.
function pages(nav, total, size, current, go) {
  nav.replaceChildren();
  const count = Math.ceil(total / size);
  if (count <= 1) return;
  const button = (p, text) => {
    const b = el("button", { type: "button", text, "aria-current": p === current ? "page" : null,
                             disabled: p < 0 || p >= count });
    b.addEventListener("click", () => go(p));
    return b;
  };
  nav.append(button(current - 1, "‹ previous"),
             el("span", { class: "muted", text: ` page ${current + 1} of ${count} (${total}) ` }),
             button(current + 1, "next ›"));
}

// -- the live connection, shared by the pages --------------------------------------------------
let wasConnected = null;
const onReconnect = [];

function setConnected(ok) {
  if (ok === wasConnected) return;
  const reconnected = ok && wasConnected === false;
  wasConnected = ok;
  document.getElementById("stream-warning").hidden = ok;
  const live = document.getElementById("live");
  live.dataset.connected = String(ok);
  live.textContent = ok ? "live" : "disconnected";
  if (reconnected) for (const fn of onReconnect) fn();  // we may have missed changes
}

// handlers: {type: fn(event)}; after each event `after()` (e.g. a render on the next frame).
function connectStream(types, handlers, after, onResync) {
  // lastEventId=0 replays the daemon's ring buffer (recent recoveries and transitions); on a
  // reconnect the browser sends Last-Event-ID itself and only what was missed comes again.
  const source = new EventSource(`${API}/events?types=${types}&lastEventId=0`);
  source.onopen = () => setConnected(true);
  source.onerror = () => setConnected(source.readyState === EventSource.OPEN);
  source.addEventListener("resync", () => { if (onResync) onResync(); });
  for (const type of Object.keys(handlers)) {
    source.addEventListener(type, (msg) => {
      setConnected(true);
      handlers[type](JSON.parse(msg.data));
      after();
    });
  }
  source.onmessage = () => setConnected(true);
  window.soulfraSource = source;
  // EventSource reports a drop only through onerror; poll readyState as well, so the warning
  // also shows when the browser gave up without telling.
  setInterval(() => setConnected(source.readyState === EventSource.OPEN), 1000);
  return source;
}

// Coalesce bursts: fn runs at most once per `ms`, and once more after the last call.
function throttle(fn, ms) {
  let timer = null;
  let last = 0;
  return () => {
    if (timer) return;
    const wait = Math.max(0, last + ms - Date.now());
    timer = setTimeout(() => { timer = null; last = Date.now(); fn(); }, wait);
  };
}

// -- theme: the system's unless the person chose ------------------------------------------------
function setupTheme() {
  const saved = localStorage.getItem("soulfra-theme");
  if (saved) document.documentElement.dataset.theme = saved;
  const button = document.getElementById("theme");
  if (!button) return;
  button.addEventListener("click", () => {
    const dark = document.documentElement.dataset.theme
      ? document.documentElement.dataset.theme === "dark"
      : window.matchMedia("(prefers-color-scheme: dark)").matches;
    const next = dark ? "light" : "dark";
    document.documentElement.dataset.theme = next;
    localStorage.setItem("soulfra-theme", next);
  });
}
