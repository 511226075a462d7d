// Charts drawn as SVG by hand: a latency line with its min-max band and the degraded
// threshold, uptime bars, error-rate bars, sparklines. Three shapes did not justify a
// vendored library (its size, its licence, its updates); these read the API's buckets as
// they come (nulls are gaps) and take their colours from the page's CSS (both themes).
"use strict";

const SVG = "http://www.w3.org/2000/svg";

function svg(tag, attrs = {}, ...children) {
  const node = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v !== null && v !== undefined) node.setAttribute(k, v);
  }
  for (const c of children) node.append(c);
  return node;
}

function niceMax(v) {
  if (v <= 0) return 1;
  const p = 10 ** Math.floor(Math.log10(v));
  for (const m of [1, 2, 2.5, 5, 10]) if (v <= m * p) return m * p;
  return 10 * p;
}

function timeLabel(ms, spanMs) {
  const d = new Date(ms);
  if (spanMs > 2 * 86400000) return d.toLocaleDateString([], { month: "short", day: "numeric" });
  return d.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
}

// Contiguous runs of indexes where `has(i)`: a gap in the data is a gap in the line.
function runs(n, has) {
  const out = [];
  let cur = null;
  for (let i = 0; i < n; i++) {
    if (has(i)) { if (!cur) { cur = []; out.push(cur); } cur.push(i); } else cur = null;
  }
  return out;
}

function frame(width, height, pad) {
  return { w: width, h: height, pad, iw: width - pad.l - pad.r, ih: height - pad.t - pad.b };
}

function axes(g, f, n, points, yMax, unit, bucketMs) {
  const span = n * bucketMs;
  g.append(svg("line", { class: "axis", x1: f.pad.l, y1: f.pad.t + f.ih, x2: f.pad.l + f.iw,
                         y2: f.pad.t + f.ih }));
  for (const frac of [0, 0.5, 1]) {
    const y = f.pad.t + f.ih * (1 - frac);
    g.append(svg("line", { class: "grid", x1: f.pad.l, y1: y, x2: f.pad.l + f.iw, y2: y }));
    const t = svg("text", { class: "label", x: f.pad.l - 6, y: y + 4, "text-anchor": "end" });
    t.textContent = `${Math.round(yMax * frac)}${unit}`;
    g.append(t);
  }
  if (!n) return;
  for (const [i, anchor] of [[0, "start"], [Math.floor(n / 2), "middle"], [n - 1, "end"]]) {
    const x = f.pad.l + (i + 0.5) * (f.iw / n);
    const t = svg("text", { class: "label", x, y: f.h - 4, "text-anchor": anchor });
    t.textContent = timeLabel(points[i].start, span);
    g.append(t);
  }
}

// points: [{start, avg, min, max, failed, checks}], threshold: ms or null.
function latencyChart(points, threshold, bucketMs, label) {
  const f = frame(800, 220, { l: 56, r: 12, t: 14, b: 22 });
  const n = points.length;
  const peak = Math.max(0, ...points.map((p) => p.max || 0));
  const yMax = niceMax(Math.max(peak, threshold ? threshold * 1.25 : 0, 1));
  const x = (i) => f.pad.l + (i + 0.5) * (f.iw / n);
  const y = (v) => f.pad.t + f.ih * (1 - Math.min(v, yMax) / yMax);
  const answered = points.filter((p) => p.avg !== null);
  const failedBuckets = points.filter((p) => p.failed > 0).length;
  const summary = answered.length
    ? `${label}: ${answered.length} of ${n} buckets answered, average from `
      + `${Math.round(answered[0].avg)} ms to ${Math.round(answered[answered.length - 1].avg)} ms,`
      + ` peak ${Math.round(peak)} ms; ${failedBuckets} bucket(s) with failed checks`
    : `${label}: no answers in this window; ${failedBuckets} bucket(s) with failed checks`;
  const root = svg("svg", { viewBox: `0 0 ${f.w} ${f.h}`, class: "chart latency",
                            role: "img", "aria-label": summary });
  root.append(svg("title", {}, summary));
  axes(root, f, n, points, yMax, " ms", bucketMs);
  for (const run of runs(n, (i) => points[i].min !== null && points[i].max !== null)) {
    const top = run.map((i) => `${x(i)},${y(points[i].max)}`);
    const bottom = run.slice().reverse().map((i) => `${x(i)},${y(points[i].min)}`);
    root.append(svg("polygon", { class: "band", points: [...top, ...bottom].join(" ") }));
  }
  for (const run of runs(n, (i) => points[i].avg !== null)) {
    if (run.length === 1) {
      root.append(svg("circle", { class: "dot", cx: x(run[0]), cy: y(points[run[0]].avg), r: 2.5 }));
    } else {
      root.append(svg("polyline", { class: "line",
                                    points: run.map((i) => `${x(i)},${y(points[i].avg)}`).join(" ") }));
    }
  }
  if (threshold) {
    root.append(svg("line", { class: "threshold", x1: f.pad.l, x2: f.pad.l + f.iw,
                              y1: y(threshold), y2: y(threshold) }));
    const t = svg("text", { class: "label threshold-label", x: f.pad.l + f.iw - 4,
                            y: y(threshold) - 4, "text-anchor": "end" });
    t.textContent = `degraded above ${threshold} ms`;
    root.append(t);
  }
  const w = Math.max(1, f.iw / n - 1);
  points.forEach((p, i) => {
    if (p.failed > 0) {
      const mark = svg("rect", { class: "fail", x: x(i) - w / 2, y: f.pad.t + f.ih - 6,
                                 width: w, height: 6 });
      mark.append(svg("title", {}, `${timeLabel(p.start, 0)}: ${p.failed} of ${p.checks} checks failed`));
      root.append(mark);
    }
  });
  return root;
}

// points: [{start, rate, failed, checks, errors}]: failure rate in % per bucket.
function errorChart(points, bucketMs, label) {
  const f = frame(800, 140, { l: 56, r: 12, t: 10, b: 22 });
  const n = points.length;
  const worst = Math.max(0, ...points.map((p) => p.rate || 0));
  const summary = `${label}: highest failure rate ${worst}% of checks`;
  const root = svg("svg", { viewBox: `0 0 ${f.w} ${f.h}`, class: "chart errors", role: "img",
                            "aria-label": summary });
  root.append(svg("title", {}, summary));
  axes(root, f, n, points, 100, "%", bucketMs);
  const w = Math.max(1, f.iw / n - 1);
  points.forEach((p, i) => {
    if (!p.rate && !p.errors) return;
    const h = f.ih * (p.rate || 0) / 100;
    const bar = svg("rect", { class: p.rate ? "fail" : "marker", x: f.pad.l + i * (f.iw / n),
                              y: f.pad.t + f.ih - Math.max(h, 2), width: w,
                              height: Math.max(h, 2) });
    bar.append(svg("title", {}, `${timeLabel(p.start, 0)}: ${p.failed || 0} of ${p.checks || 0}`
                               + ` checks failed, ${p.errors} error(s) stored`));
    root.append(bar);
  });
  return root;
}

// points: [{start, state, uptime, maintenanceS, downS}] → one bar per bucket.
function uptimeBars(points, label) {
  const down = points.filter((p) => p.state === "down").length;
  const maint = points.filter((p) => p.maintenanceS > 0).length;
  const list = el("div", { class: "bars", role: "img",
                          "aria-label": `${label}: ${points.length} bars, ${down} with an outage,`
                                        + ` ${maint} with maintenance` });
  for (const p of points) {
    const pct = p.uptime === null ? "no data" : `${p.uptime.toFixed(2)}% up`;
    const extra = (p.downS ? `, down ${duration(p.downS * 1000)}` : "")
      + (p.maintenanceS ? `, maintenance ${duration(p.maintenanceS * 1000)}` : "");
    list.append(el("span", { class: `bar ${p.state}`, "data-state": p.state,
                           title: `${new Date(p.start).toLocaleString()}: ${pct}${extra}` }));
  }
  return list;
}

function sparkline(values, label, width = 120, height = 24) {
  const root = svg("svg", { viewBox: `0 0 ${width} ${height}`, class: "spark", role: "img",
                            width, height, "aria-label": label });
  root.append(svg("title", {}, label));
  const max = Math.max(1, ...values);
  const n = values.length;
  if (n > 1) {
    const pts = values.map((v, i) => `${(i / (n - 1)) * (width - 2) + 1},`
                                     + `${height - 2 - (v / max) * (height - 4)}`);
    root.append(svg("polyline", { class: "line", points: pts.join(" ") }));
  }
  return root;
}
