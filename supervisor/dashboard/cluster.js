// The cluster panel of the overview (cluster mode only; a standalone daemon shows nothing):
// every node with its state and services, and the shared services with their lease holder.
// Polled every few seconds: the view is read from Redis, and a lapse has no event here.
"use strict";

const CLUSTER_EVERY_MS = 3000;

function clusterServices(services) {
  const names = Object.keys(services).sort();
  if (!names.length) return document.createTextNode("–");
  const span = el("span", { class: "cluster-services" });
  for (const n of names) {
    span.append(el("span", { class: "state", "data-state": services[n], title: n, text: n }), " ");
  }
  return span;
}

function renderCluster(section, view) {
  const nodes = el("tbody");
  for (const n of view.nodes) {
    nodes.append(el("tr", { "data-node": n.name, "data-alive": String(n.alive) },
      el("td", {}, el("strong", { text: n.name }), n.name === view.node ? " (this node)" : ""),
      el("td", {}, el("span", { class: "state", "data-state": n.alive ? "healthy" : "failing",
                                text: n.alive ? "alive" : "lapsed" })),
      el("td", { text: n.lastSeen ? ago(n.lastSeen / 1000) : "–" }),
      el("td", { text: n.version || "–" }),
      el("td", {}, clusterServices(n.services))));
  }
  const head = el("div", { class: "section-head" }, el("h2", { text: "Cluster" }),
    el("span", { class: "muted", text: view.redisReachable === false
      ? "Redis unreachable: the last known view" : `TTL ${view.ttlSeconds} s` }));
  const table = el("table", { id: "cluster-nodes" },
    el("thead", {}, el("tr", {}, ...["Node", "State", "Last seen", "Version", "Services"]
      .map((t) => el("th", { scope: "col", text: t })))), nodes);
  section.replaceChildren(head, table);
  if (view.sharedServices.length) {
    const shared = el("ul", { id: "cluster-shared", class: "list" });
    for (const s of view.sharedServices) {
      const holder = s.gaveUp
        ? `gave up by node ${s.gaveUp.node}: ${s.gaveUp.reason}`
        : s.leaseHolder ? `lease: ${s.leaseHolder} (token ${s.fencingToken})` : "no lease held";
      shared.append(el("li", { "data-shared": s.name }, el("strong", { text: s.name }), " ",
                       clusterServices(s.states), el("span", { class: "muted", text: holder })));
    }
    section.append(el("h3", { text: "Shared services" }), shared);
  }
}

async function clusterPanel(overview) {
  let view;
  try { view = await getJSON("/cluster"); } catch (e) { return; }
  if (!view || view.standalone) return;
  const section = el("section", { id: "cluster" });
  overview.prepend(section);
  renderCluster(section, view);
  setInterval(async () => {
    try { renderCluster(section, await getJSON("/cluster")); } catch (e) { /* next round */ }
  }, CLUSTER_EVERY_MS);
}
