// /errors: error groups (count, first/last seen, status, 24 h trend), paged; /errors/{fp}: one
// group: its latest event's message, stack trace and breadcrumbs when the report had them,
// tags, the services and incidents involved, resolve / ignore.
"use strict";

const GROUP_PAGE = 50;

async function groupsPage(root) {
  document.title = "Errors · soulfra-supervisor";
  const params = new URLSearchParams(location.search);
  let status = params.get("status") || "pending";
  let page = 0;
  let groups = [];
  const table = el("table", { id: "groups" });
  const pager = el("nav", { class: "pager", "aria-label": "pages of error groups" });
  const filter = el("select", { id: "group-status", "aria-label": "status" });
  for (const s of ["pending", "resolved", "ignored", "workaround", "all"]) {
    filter.append(el("option", { value: s, text: s, selected: s === status }));
  }
  filter.addEventListener("change", () => { status = filter.value; page = 0; load(); });
  root.replaceChildren(el("section", {},
    el("div", { class: "section-head" }, el("h2", { text: "Error groups" }),
       el("label", {}, "Status ", filter)),
    table, pager));

  async function load() {
    const q = status === "all" ? "" : `&status=${status}`;
    const data = await getJSON(`/error-groups?limit=1000&trend=24h${q}`);
    groups = data.groups || [];
    draw();
  }

  function draw() {
    const head = el("thead", {}, el("tr", {}, ...["Error", "Service", "Category", "Count",
      "First seen", "Last seen", "Status", "Last 24 h"].map((h) => el("th", { scope: "col", text: h }))));
    const body = el("tbody");
    for (const g of groups.slice(page * GROUP_PAGE, (page + 1) * GROUP_PAGE)) {
      const trend = g.trend || [];
      body.append(el("tr", { "data-fingerprint": g.fingerprint },
        el("td", { class: "failure" }, link(groupHref(g.fingerprint), g.message)),
        el("td", { text: g.service || "" }),
        el("td", {}, el("span", { class: "tag", text: g.category })),
        el("td", { class: "num", text: String(g.count) }),
        el("td", { text: stamp(g.firstSeen) }),
        el("td", { text: ago(g.lastSeen / 1000) }),
        el("td", {}, el("span", { class: `tag ${g.status}`, text: g.regressed ? `${g.status} (regressed)` : g.status })),
        el("td", {}, sparkline(trend, `${trend.reduce((a, b) => a + b, 0)} in the last 24 h`))));
    }
    table.replaceChildren(head, body);
    if (!groups.length) body.append(el("tr", {}, el("td", { colspan: "8", class: "muted", text: "No error groups." })));
    pages(pager, groups.length, GROUP_PAGE, page, (p) => { page = p; draw(); });
  }

  await load();
  const again = throttle(load, 2000);
  connectStream("error_recorded,daemon_error", { error_recorded: again, daemon_error: again },
                () => {}, again);
  onReconnect.push(again);
}

// A stack from the event's context: the error sink's `exceptions` (issue 12: Sentry's chain,
// innermost cause first, each with `frames` oldest call first), a raw Sentry `exception`
// (values[].stacktrace.frames), a list of frames, or the text of a Python traceback (the
// daemon's own errors). Shown as people read them: the outermost exception first, each with
// its most recent call first.
function stackOf(ctx) {
  if (Array.isArray(ctx.exceptions) && ctx.exceptions.length) {
    return ctx.exceptions.slice().reverse().map((v) => ({
      type: v.type, value: v.value, frames: (v.frames || []).slice().reverse() }));
  }
  const exc = ctx.exception;
  const values = exc && (Array.isArray(exc) ? exc : exc.values);
  if (values && values.length) {
    return values.slice().reverse().map((v) => ({ type: v.type, value: v.value,
                                frames: ((v.stacktrace || {}).frames || []).slice().reverse() }));
  }
  const frames = ctx.frames || (ctx.stacktrace && ctx.stacktrace.frames);
  if (frames) return [{ type: "", value: "", frames: frames.slice().reverse() }];
  const text = ctx.stack || ctx.traceback || (ctx.result && ctx.result.details && ctx.result.details.traceback);
  return text ? text : null;
}

function stackBox(stack) {
  if (typeof stack === "string") return el("pre", { class: "stack", id: "stack", text: stack });
  const box = el("div", { class: "stack", id: "stack" });
  for (const exc of stack) {
    box.append(el("p", {}, el("strong", { text: exc.type || "" }), ` ${exc.value || ""}`));
    const list = el("ol", { class: "frames" });
    for (const f of exc.frames) {
      list.append(el("li", { class: f.in_app === false ? "frame lib" : "frame" },
        el("code", { text: `${f.filename || f.abs_path || f.module || "?"}:${f.lineno ?? "?"}` }),
        ` in ${f.function || "?"}`,
        f.context_line ? el("pre", { text: f.context_line.trim() }) : ""));
    }
    box.append(list);
  }
  return box;
}

function breadcrumbsBox(ctx) {
  const raw = ctx.breadcrumbs;
  const crumbs = raw && (Array.isArray(raw) ? raw : raw.values);
  if (!crumbs || !crumbs.length) return null;
  const list = el("ol", { class: "list compact", id: "breadcrumbs" });
  for (const b of crumbs) {
    const at = typeof b.timestamp === "number" ? new Date(b.timestamp * (b.timestamp > 1e12 ? 1 : 1000))
      : new Date(b.timestamp);
    list.append(el("li", {}, el("span", { class: "when", text: isNaN(at) ? "" : at.toLocaleTimeString() }),
      el("span", { class: "tag", text: b.category || b.type || "" }),
      b.level ? el("span", { class: `tag ${b.level}`, text: b.level }) : "",
      ` ${b.message || (b.data ? JSON.stringify(b.data) : "")}`));
  }
  return el("section", {}, el("h3", { text: "Breadcrumbs" }), list);
}

function tagsOf(ctx, latest) {
  const raw = ctx.tags || {};
  const pairs = Array.isArray(raw) ? raw : Object.entries(raw);
  const base = [["service", latest.service], ["category", latest.category], ["level", latest.level],
                ["severity", latest.severity], ["check", latest.check]];
  return [...base.filter(([, v]) => v), ...pairs];
}

async function groupPage(root, fp) {
  document.title = "Error group · soulfra-supervisor";
  async function draw() {
    const g = await getJSON(`/error-groups/${encodeURIComponent(fp)}`);
    if (g.error) {
      root.replaceChildren(el("section", {}, el("p", { class: "message error", text: g.error })));
      return;
    }
    const latest = g.latest || {};
    const ctx = latest.context || {};
    const said = el("p", { class: "message", role: "status" });
    const action = (status, text) => {
      const b = el("button", { type: "button", "data-status": status, text,
                               disabled: g.status === status });
      b.addEventListener("click", async () => {
        const { status: code, data } = await withToken(() => sendJSON(
          "PATCH", `/error-groups/${encodeURIComponent(fp)}`, { status }));
        said.textContent = code === 200 ? `Now ${data.status}.` : data.error;
        said.classList.toggle("error", code !== 200);
        if (code === 200) draw();
      });
      return b;
    };
    const stack = stackOf(ctx);
    const tags = el("ul", { class: "tags", id: "tags" });
    for (const [k, v] of tagsOf(ctx, latest)) tags.append(el("li", { class: "tag", text: `${k}: ${v}` }));
    const incidents = el("ul", { class: "list compact", id: "group-incidents" });
    for (const i of g.incidents) {
      incidents.append(el("li", {}, el("span", { class: "when", text: stamp(i.at) }),
                          link(incidentHref(i.id), i.id), ` ${i.service || ""}`));
    }
    if (!g.incidents.length) incidents.append(el("li", { class: "muted", text: "None." }));
    const recent = el("ul", { class: "list compact" });
    for (const e of g.recent) {
      recent.append(el("li", {}, el("span", { class: "when", text: stamp(e.timestamp) }),
        el("strong", { text: e.service || "" }), ` ${e.message} `,
        e.correlationId ? link(incidentHref(e.correlationId), "incident") : ""));
    }
    const days = g.trend.counts;
    root.replaceChildren(
      el("section", { class: "page-head" },
        el("p", {}, link("/errors", "← error groups")),
        el("h2", { id: "group-message", text: g.message }),
        el("p", {}, el("span", { class: `tag ${g.status}`, id: "group-status", text: g.status }),
           ` ${g.count} event(s) · first ${stamp(g.firstSeen)} · last ${stamp(g.lastSeen)}`
           + (g.regressed ? ` · regressed ${stamp(g.regressedAt)}` : "")),
        el("div", { class: "actions" }, action("resolved", "Resolve"), action("ignored", "Ignore"),
           action("pending", "Reopen")), said,
        el("p", { class: "muted", text: `Last 7 days: ${days.join(" · ")}` }),
        sparkline(days, `events per day over 7 days: ${days.join(", ")}`, 200, 30)),
      el("section", {}, el("h3", { text: "Latest event" }),
        el("p", { id: "latest-message" }, el("span", { class: "when", text: stamp(latest.timestamp) }),
           " ", latest.message || ""), tags,
        stack ? el("div", {}, el("h3", { text: "Stack trace" }), stackBox(stack))
          : el("p", { class: "muted", text: "This event has no stack trace." })),
      breadcrumbsBox(ctx) || "",
      el("div", { class: "columns" },
        el("section", {}, el("h3", { text: "Services" }),
           el("ul", { class: "tags" }, ...g.services.map((s) => el("li", {}, link(serviceHref(s), s))))),
        el("section", {}, el("h3", { text: "Incidents" }), incidents)),
      el("section", {}, el("h3", { text: "Newest events" }), recent));
  }
  await draw();
  const again = throttle(draw, 2000);
  connectStream("error_recorded,daemon_error", { error_recorded: again, daemon_error: again },
                () => {}, again);
  onReconnect.push(again);
}
