// /incidents/{id}: one incident on one time axis: first failed check, declaration, each
// recovery attempt (what ran, its output, how long), alerts and their deliveries per channel,
// acknowledgement, people's updates, recovered; with the downtime and the repair time.
"use strict";

const LANES = [
  ["service", ["first_failure", "declared", "state", "recovered", "error"]],
  ["recovery", ["recovery_started", "attempt", "recovery_finished"]],
  ["alerts", ["alert", "delivery", "acknowledged"]],
  ["people", ["update"]],
];

function laneOf(kind) {
  const i = LANES.findIndex(([, kinds]) => kinds.includes(kind));
  return i < 0 ? 0 : i;
}

function timeAxis(inc) {
  const items = inc.timeline;
  const t0 = inc.firstFailureAt || items[0].at;
  const t1 = Math.max(inc.recoveredAt || Date.now(), ...items.map((i) => i.at + (i.durationMs || 0)));
  const span = Math.max(1, t1 - t0);
  const f = { w: 800, l: 80, r: 16, lane: 26, top: 8 };
  const h = f.top + LANES.length * f.lane + 24;
  const x = (t) => f.l + (f.w - f.l - f.r) * ((t - t0) / span);
  const summary = `Timeline of ${inc.id}: ${items.length} entries over ${duration(span)}`;
  const root = svg("svg", { viewBox: `0 0 ${f.w} ${h}`, class: "chart axis-chart", role: "img",
                            "aria-label": summary });
  root.append(svg("title", {}, summary));
  root.append(svg("rect", { class: "downtime", x: x(t0), y: f.top,
                            width: Math.max(1, x(inc.recoveredAt || Date.now()) - x(t0)),
                            height: LANES.length * f.lane }));
  LANES.forEach(([name], i) => {
    const y = f.top + i * f.lane + f.lane / 2;
    root.append(svg("line", { class: "grid", x1: f.l, x2: f.w - f.r, y1: y, y2: y }));
    const t = svg("text", { class: "label", x: f.l - 6, y: y + 4, "text-anchor": "end" });
    t.textContent = name;
    root.append(t);
  });
  items.forEach((item, n) => {
    const y = f.top + laneOf(item.kind) * f.lane + f.lane / 2;
    let mark;
    if (item.kind === "attempt" && item.durationMs) {
      mark = svg("rect", { class: `mark attempt ${item.ok ? "ok" : "bad"}`, x: x(item.at), y: y - 6,
                           width: Math.max(3, x(item.at + item.durationMs) - x(item.at)), height: 12 });
    } else {
      mark = svg("circle", { class: `mark ${item.kind}`, cx: x(item.at), cy: y, r: 5 });
    }
    mark.append(svg("title", {}, `${stamp(item.at)}: ${item.text}`));
    mark.dataset.index = String(n);
    root.append(mark);
  });
  for (const [t, anchor] of [[t0, "start"], [t1, "end"]]) {
    const label = svg("text", { class: "label", x: x(t), y: h - 6, "text-anchor": anchor });
    label.textContent = new Date(t).toLocaleTimeString();
    root.append(label);
  }
  return root;
}

function entry(item, t0) {
  const offset = t0 ? `+${duration(item.at - t0)}` : "";
  const li = el("li", { class: `entry kind-${item.kind}`, "data-kind": item.kind },
    el("span", { class: "when", text: new Date(item.at).toLocaleTimeString() }),
    el("span", { class: "offset muted", text: offset }),
    el("span", { class: `tag ${item.kind === "attempt" ? (item.ok ? "succeeded" : "failed") : ""}`,
                 text: item.kind.replace(/_/g, " ") }),
    el("span", { class: "text", text: ` ${item.text}` }));
  if (item.durationMs !== undefined && item.durationMs !== null) {
    li.append(el("span", { class: "duration", text: ` (${duration(item.durationMs)})` }));
  }
  if (item.kind === "attempt" && (item.ran || item.output)) {
    li.append(el("details", {}, el("summary", { text: "what ran and its output" }),
      el("pre", { class: "ran", text: item.ran || "" }),
      item.output ? el("pre", { class: "output", text: item.output }) : ""));
  }
  if (item.errorId && item.fingerprint) li.append(" ", link(groupHref(item.fingerprint), "error group"));
  return li;
}

function updateForm(inc, reload) {
  const status = el("select", { id: "update-status" });
  for (const s of ["investigating", "identified", "monitoring", "resolved", "update"]) {
    status.append(el("option", { value: s, text: s }));
  }
  const text = el("textarea", { id: "update-message", rows: "2", maxlength: "2000" });
  const said = el("p", { class: "message", role: "status" });
  const send = el("button", { type: "submit", class: "primary", text: "Post update" });
  const form = el("form", { id: "update-form" },
    el("label", {}, "Status ", status), el("label", {}, "What people should know (shown on ",
      link("/status", "the status page"), ")", text), send, said);
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    const { status: code, data } = await withToken(() => postJSON(
      `/incidents/${encodeURIComponent(inc.id)}/updates`,
      { status: status.value, message: text.value }));
    said.textContent = code === 201 ? "Posted." : data.error;
    said.classList.toggle("error", code !== 201);
    if (code === 201) { text.value = ""; reload(); }
  });
  return el("section", {}, el("h3", { text: "Post an update" }), form);
}

async function incidentPage(root, id) {
  document.title = `${id} · soulfra-supervisor`;
  async function draw() {
    const inc = await getJSON(`/incidents/${encodeURIComponent(id)}`);
    if (inc.error) {
      root.replaceChildren(el("section", {}, el("h2", { text: id }),
                                el("p", { class: "message error", text: inc.error })));
      return;
    }
    const t0 = inc.firstFailureAt;
    const facts = el("dl", { class: "facts" });
    const fact = (k, v, idName) => facts.append(el("dt", { text: k }), el("dd", { id: idName, text: v }));
    fact("Service", inc.service);
    fact("Status", inc.status);
    fact("First failed check", stamp(inc.firstFailureAt));
    fact("Declared failing", stamp(inc.declaredAt));
    fact("Recovered", inc.recoveredAt ? stamp(inc.recoveredAt) : "not yet");
    fact("Downtime", inc.downtimeMs !== null ? duration(inc.downtimeMs)
      : `${duration(inc.openForMs)} so far`, "downtime");
    fact("Repair time", duration(inc.repairMs), "repair");
    fact("Recovery attempts", String(inc.attempts), "attempts");
    const list = el("ol", { class: "list timeline", id: "timeline" });
    for (const item of inc.timeline) list.append(entry(item, t0));
    root.replaceChildren(
      el("section", { class: "page-head" },
        el("p", {}, link("/", "← overview"), " · ", link(serviceHref(inc.service), `${inc.service} charts`)),
        el("h2", {}, el("span", { class: `tag ${inc.status === "open" ? "failed" : "recovered"}`,
                                  text: inc.status }), ` ${inc.title}`),
        facts),
      el("section", {}, el("h3", { text: "On one time axis" }), timeAxis(inc),
         el("p", { class: "muted legend" }, "The shaded span is the downtime: from the first "
           + "failed check until the service was up again.")),
      el("section", {}, el("h3", { text: "Everything that happened, in order" }), list),
      updateForm(inc, draw));
  }
  await draw();
  const again = throttle(draw, 1000);
  connectStream("*", Object.fromEntries(
    ["state_changed", "recovery_started", "recovery_attempt", "recovery_finished",
     "alert_delivery", "error_recorded", "incident_updated"].map((t) => [t, (ev) => {
      if (ev.correlationId === id) again();
    }])), () => {}, again);
  onReconnect.push(again);
}
