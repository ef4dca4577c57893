#include "admin/dashboard.h"

namespace tg::admin {

namespace {

// The page reads the API at ?api=<prefix> (default /api), version 9, once a second.
// Write buttons use PATCH/DELETE; when the API answers 405 (no `write=on`) they
// show why and are turned off.
constexpr const char kPage[] = R"html(<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>tidegate</title>
<style>
body { font: 13px/1.4 system-ui, sans-serif; margin: 0; background: #f6f7f9; color: #1b1f24; }
header { background: #14324a; color: #fff; padding: 8px 16px; display: flex; gap: 24px; align-items: baseline; }
header h1 { font-size: 18px; margin: 0; }
main { padding: 12px 16px; }
section { background: #fff; border: 1px solid #d8dde3; border-radius: 6px; margin-bottom: 14px; }
section h2 { font-size: 14px; margin: 0; padding: 8px 12px; border-bottom: 1px solid #e5e8ec; display: flex; gap: 16px; }
table { border-collapse: collapse; width: 100%; }
th, td { text-align: right; padding: 3px 8px; border-bottom: 1px solid #f0f2f4; white-space: nowrap; }
th:first-child, td:first-child { text-align: left; }
th { font-weight: 600; color: #4a5561; background: #fafbfc; }
.state { font-weight: 600; }
.state.up { color: #1a7f37; } .state.draining { color: #9a6700; } .state.down, .state.unavail, .state.unhealthy { color: #cf222e; }
.state.checking { color: #0969da; }
button { font-size: 12px; padding: 1px 6px; margin-left: 2px; }
#message { color: #cf222e; margin-left: auto; }
canvas { vertical-align: middle; }
.muted { color: #6e7781; }
</style>
</head>
<body>
<header><h1>tidegate</h1><span id="summary" class="muted"></span><span id="message"></span></header>
<main>
<div id="upstreams"></div>
<section><h2>Server zones</h2><table id="zones"><thead><tr><th>zone</th><th>processing</th><th>requests</th><th>2xx</th><th>4xx</th><th>5xx</th><th>sent</th><th>received</th></tr></thead><tbody></tbody></table></section>
<section id="scaling"><h2>Autoscaling</h2><div id="events" class="muted" style="padding:8px 12px">No autoscaler is configured.</div></section>
</main>
<script>
"use strict";
const params = new URLSearchParams(location.search);
const api = (params.get("api") || "/api").replace(/\/$/, "") + "/9";
const history = new Map();   // server id -> last 300 rps samples
let writable = true;

function el(tag, attrs, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (k.startsWith("on")) e.addEventListener(k.slice(2), v); else e.setAttribute(k, v);
  }
  for (const c of children) e.append(c instanceof Node ? c : document.createTextNode(String(c)));
  return e;
}

function fmt(n, digits) { return n === undefined ? "-" : Number(n).toFixed(digits === undefined ? 0 : digits); }

function sparkline(values) {
  const c = el("canvas", { width: 120, height: 18 });
  const g = c.getContext("2d");
  const max = Math.max(1, ...values);
  g.strokeStyle = "#0969da";
  g.beginPath();
  values.forEach((v, i) => {
    const x = 120 - (values.length - 1 - i) * (120 / 300);
    const y = 17 - (v / max) * 16;
    i ? g.lineTo(x, y) : g.moveTo(x, y);
  });
  g.stroke();
  return c;
}

async function change(upstream, id, method, body) {
  const res = await fetch(`${api}/http/upstreams/${encodeURIComponent(upstream)}/servers/${id}`, {
    method, headers: { "Content-Type": "application/json" }, body: body ? JSON.stringify(body) : undefined });
  if (!res.ok) {
    const err = await res.json().catch(() => ({}));
    const text = err.error ? `${err.error.text} (${err.error.code})` : res.statusText;
    document.getElementById("message").textContent = `${method} failed: ${text}`;
    if (res.status === 405) writable = false;
  } else {
    document.getElementById("message").textContent = "";
  }
  refresh();
}

// Active health checks and outlier ejection, as a tooltip of the state.
function healthText(p) {
  const hc = p.health_checks || {};
  let text = hc.checks ? `health checks: ${hc.checks}, failed ${hc.fails}, unhealthy ${hc.unhealthy} times` +
    (hc.last_passed === undefined ? "" : hc.last_passed ? ", last passed" : ", last failed") : "no health checks";
  if (p.ejected) text += "; ejected by outlier detection";
  return text;
}

function serverRow(upstream, p) {
  const w = (p.windows && p.windows["10s"]) || {};
  const m = (p.windows && p.windows["1m"]) || {};
  const h = history.get(p.id) || [];
  h.push(w.rps || 0);
  if (h.length > 300) h.shift();
  history.set(p.id, h);
  const actions = el("td", {});
  if (writable) {
    const draining = p.state === "draining";
    actions.append(
      el("button", { class: draining ? "undrain" : "drain",
        onclick: () => change(upstream, p.id, "PATCH", { drain: !draining }) }, draining ? "undrain" : "drain"),
      el("button", { class: "weight", onclick: () => {
        const v = prompt(`Weight of ${p.server}`, p.weight);
        if (v !== null) change(upstream, p.id, "PATCH", { weight: Number(v) });
      } }, "weight"),
      el("button", { class: p.state === "down" ? "up" : "down",
        onclick: () => change(upstream, p.id, "PATCH", { down: p.state !== "down" }) }, p.state === "down" ? "up" : "down"),
      el("button", { class: "remove", onclick: () => {
        if (confirm(`Remove ${p.server} from ${upstream}?`)) change(upstream, p.id, "DELETE");
      } }, "remove"));
  }
  return el("tr", { "data-server-id": p.id, "data-server": p.server },
    el("td", {}, p.server, p.backup ? " (backup)" : ""),
    el("td", { class: "state " + p.state, title: healthText(p) }, p.state),
    el("td", {}, p.weight), el("td", {}, p.active), el("td", {}, p.tunnels),
    el("td", {}, fmt(w.rps, 1)), el("td", {}, fmt(m.p95_ms, 1)),
    el("td", {}, fmt((m.error_rate || 0) * 100, 2) + "%"),
    el("td", {}, p.requests), el("td", {}, sparkline(h)), actions);
}

function upstreamSection(name, u) {
  const body = el("tbody", {});
  for (const p of u.peers) body.append(serverRow(name, p));
  const w = (u.windows && u.windows["10s"]) || {};
  return el("section", { "data-upstream": name },
    el("h2", {}, name, el("span", { class: "muted" },
      `${u.peers.length} servers · ${fmt(w.rps, 1)} req/s · zombies ${u.zombies} · tunnels ${u.tunnels || 0}`)),
    el("table", {}, el("thead", {}, el("tr", {}, ...["server", "state", "weight", "active", "tunnels",
      "req/s", "p95 ms (1m)", "errors (1m)", "requests", "last 5 min", ""].map(t => el("th", {}, t)))), body));
}

// The autoscaler: per group its counts, last decision and latest events (newest first).
function scalingSection(name, g) {
  const d = g.decision || {};
  const rows = (g.events || []).slice(-15).reverse().map(e => el("tr", { class: "event " + e.kind },
    el("td", {}, e.time.slice(11, 19)), el("td", {}, e.kind),
    el("td", {}, e.from === undefined ? "" : `${e.from} → ${e.to}`), el("td", {}, e.cause),
    el("td", { style: "text-align:left;white-space:normal" }, e.message)));
  return el("div", { "data-autoscale": name, style: "padding:6px 12px" },
    el("div", {}, el("b", {}, name), ` · ${g.provider}${g.dry_run ? " (dry run)" : ""} · `,
      el("span", { class: "counts" }, `current ${g.current}, desired ${g.desired}, min ${g.min}, max ${g.max}`),
      ` · ${(g.instances || []).length} instances · `, el("span", { class: "reason muted" }, d.reason || "")),
    el("table", {}, el("thead", {}, el("tr", {}, ...["time (UTC)", "event", "count", "cause", "detail"]
      .map(t => el("th", {}, t)))), el("tbody", {}, ...rows)));
}
async function refreshScaling() {
  const res = await fetch(`${api}/tidegate/autoscale`).catch(() => null);
  if (!res || !res.ok) return;
  const groups = Object.entries(await res.json());
  if (!groups.length) return;
  document.getElementById("events").replaceChildren(...groups.map(([n, g]) => scalingSection(n, g)));
  document.getElementById("events").classList.remove("muted");
}
async function refresh() {
  refreshScaling();
  try {
    const [ups, conns, zones] = await Promise.all([
      fetch(`${api}/http/upstreams`).then(r => r.json()),
      fetch(`${api}/connections`).then(r => r.json()),
      fetch(`${api}/http/server_zones`).then(r => r.json())]);
    const box = document.getElementById("upstreams");
    box.replaceChildren(...Object.entries(ups).map(([n, u]) => upstreamSection(n, u)));
    document.getElementById("summary").textContent =
      `connections: ${conns.active} active, ${conns.idle} idle, ${conns.accepted} accepted`;
    const zbody = document.querySelector("#zones tbody");
    zbody.replaceChildren(...Object.entries(zones).map(([n, z]) => el("tr", {},
      el("td", {}, n), el("td", {}, z.processing), el("td", {}, z.requests),
      el("td", {}, z.responses["2xx"]), el("td", {}, z.responses["4xx"]), el("td", {}, z.responses["5xx"]),
      el("td", {}, z.sent), el("td", {}, z.received))));
  } catch (e) {
    document.getElementById("message").textContent = "API unreachable: " + e;
  }
}
refresh();
setInterval(refresh, 1000);
</script>
</body>
</html>
)html";

}  // namespace

proxy::ControlResponse dashboard_response(const proxy::ControlRequest& request) {
  return proxy::ControlResponse::read_only(request.method, "text/html; charset=utf-8",
                                           [] { return std::string(kPage); });
}

}  // namespace tg::admin
