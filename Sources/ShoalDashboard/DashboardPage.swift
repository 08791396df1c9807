internal import Foundation

/// The dashboard's HTML page: self-contained (inline CSS and JavaScript, no external scripts, fonts or images),
/// polling `<its own path>/data` every sampling interval and drawing the rows, the pool's totals and inline-SVG
/// sparklines of the history. Every value is written with `textContent`, never parsed as HTML.
///
/// The DOM is stable for tests: `tr[data-row-id="<id>"]` per row, `td[data-field="<json field>"]` per cell
/// (`status`, `breaker`, `in_flight`, ... as in `DashboardRow`), `[data-total="<field>"]` for the totals, and
/// `body[data-updates]` counts the snapshots drawn.
package enum DashboardPage {
    /// The page, titled `title` (HTML-escaped here).
    package static func html(title: String) -> String {
        template.replacingOccurrences(of: "{{TITLE}}", with: escape(title))
    }

    /// The page's `Content-Security-Policy`: its inline script and style, requests to its own origin, nothing else.
    package static let contentSecurityPolicy =
        "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; connect-src 'self'; img-src data:"
    package static let contentType = "text/html; charset=utf-8"
    /// The `Content-Type` of `/dashboard/data`.
    package static let dataContentType = "application/json"

    /// `text` with `&`, `<`, `>`, `"` and `'` escaped.
    package static func escape(_ text: String) -> String {
        var escaped = ""
        for character in text {
            switch character {
            case "&": escaped += "&amp;"
            case "<": escaped += "&lt;"
            case ">": escaped += "&gt;"
            case "\"": escaped += "&quot;"
            case "'": escaped += "&#39;"
            default: escaped.append(character)
            }
        }
        return escaped
    }

    private static let template = #"""
<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{TITLE}}</title>
<style>
:root { --bg: #0f1419; --panel: #161d25; --line: #243040; --text: #d8e0e8; --dim: #7d8b99; --ok: #3fb950;
        --warn: #d29922; --bad: #f85149; --accent: #58a6ff; }
* { box-sizing: border-box; }
body { margin: 0; padding: 20px 24px; background: var(--bg); color: var(--text);
       font: 14px/1.4 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif; }
header { display: flex; align-items: baseline; gap: 16px; flex-wrap: wrap; margin-bottom: 16px; }
h1 { font-size: 20px; margin: 0; font-weight: 600; }
#meta { color: var(--dim); font-size: 12px; }
#state { font-size: 12px; padding: 2px 8px; border-radius: 10px; background: var(--line); }
#state.live { color: var(--ok); } #state.stale { color: var(--bad); }
#cards { display: grid; grid-template-columns: repeat(auto-fill, minmax(180px, 1fr)); gap: 12px; margin-bottom: 18px; }
.card { background: var(--panel); border: 1px solid var(--line); border-radius: 8px; padding: 10px 12px 6px; }
.card .label { color: var(--dim); font-size: 12px; }
.card .value { font-size: 22px; font-weight: 600; font-variant-numeric: tabular-nums; margin: 2px 0; }
.card svg { display: block; width: 100%; height: 40px; }
.card .span { color: var(--dim); font-size: 11px; text-align: right; }
table { width: 100%; border-collapse: collapse; background: var(--panel); border: 1px solid var(--line);
        border-radius: 8px; overflow: hidden; font-variant-numeric: tabular-nums; }
.scroll { overflow-x: auto; }
th, td { padding: 6px 8px; text-align: right; border-bottom: 1px solid var(--line); white-space: nowrap; font-size: 13px; }
th { color: var(--dim); font-weight: 500; font-size: 12px; background: #121920; }
th:nth-child(-n+3), td:nth-child(-n+3) { text-align: left; }
tfoot td { font-weight: 600; border-bottom: none; background: #121920; }
td.ok { color: var(--ok); } td.warn { color: var(--warn); } td.bad { color: var(--bad); }
td[data-field="id"] { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; font-size: 12px; }
td .note { display: block; color: var(--bad); font-size: 11px; white-space: normal; max-width: 240px; }
.bar { display: inline-block; width: 44px; height: 6px; background: var(--line); border-radius: 3px;
       margin-right: 6px; vertical-align: middle; overflow: hidden; }
.bar i { display: block; height: 100%; background: var(--accent); }
#empty { color: var(--dim); padding: 16px; }
footer { color: var(--dim); font-size: 11px; margin-top: 12px; }
</style>
</head>
<body data-updates="0">
<header>
  <h1>{{TITLE}}</h1>
  <span id="state">connecting</span>
  <span id="meta"></span>
</header>
<section id="cards"></section>
<div class="scroll"><table id="replicas">
  <thead><tr id="head"></tr></thead>
  <tbody id="rows"></tbody>
  <tfoot><tr id="totals"></tr></tfoot>
</table></div>
<div id="empty" hidden>No replicas.</div>
<footer>Gauges are the latest scrape of each replica's /metrics; rates and TTFT percentiles come from the
differences between two scrapes (histogram buckets for TTFT), not lifetime totals. Requests and tokens are
lifetime counts.</footer>
<script>
"use strict";
const DASH = "\u2013";
const dataURL = location.pathname.replace(/\/+$/, "") + "/data";
const columns = [
  ["id", "Replica", (v, r) => v],
  ["models", "Models", v => (v || []).join(", ")],
  ["status", "Health", v => v],
  ["breaker", "Breaker", v => v == null ? DASH : v.replace("_", "-")],
  ["in_flight", "In flight", count],
  ["waiting", "Waiting", count],
  ["running", "Running", count],
  ["kv_cache_usage", "KV cache", percent],
  ["prefix_cache_hit_rate", "Prefix hits", percent],
  ["output_tokens_per_second", "Out tok/s", rate],
  ["ttft_p50_seconds", "TTFT p50", latency],
  ["ttft_p99_seconds", "TTFT p99", latency],
  ["finished_requests", "Requests", count],
  ["generation_tokens", "Tokens out", count],
  ["errors", "Errors", count],
  ["migrations", "Migrations", count],
];
const cards = [
  ["output_tokens_per_second", "Output tok/s", p => p.output_tokens_per_second, rate, "#58a6ff"],
  ["requests_per_second", "Requests/s", p => p.requests_per_second, rate, "#a371f7"],
  ["in_flight", "In flight", p => p.in_flight, count, "#d29922"],
  ["running", "Running", p => p.running, count, "#3fb950"],
  ["waiting", "Waiting", p => p.waiting, count, "#f0883e"],
  ["kv_cache_usage", "KV cache (mean)", p => p.kv_cache_usage, percent, "#39c5cf"],
  ["healthy_replicas", "Healthy", p => p.healthy_replicas, count, "#3fb950"],
];

function count(v) { return v == null ? DASH : Math.round(v).toLocaleString("en-US"); }
function rate(v) { return v == null ? DASH : (v >= 100 ? v.toFixed(0) : v.toFixed(1)); }
function percent(v) { return v == null ? DASH : (v * 100).toFixed(1) + "%"; }
function latency(v) {
  if (v == null) return DASH;
  return v < 1 ? (v * 1000).toFixed(v < 0.01 ? 1 : 0) + " ms" : v.toFixed(2) + " s";
}

function el(tag, attrs, text) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) node.setAttribute(k, v);
  if (text != null) node.textContent = text;
  return node;
}

function setup() {
  const head = document.getElementById("head");
  for (const [field, label] of columns) head.appendChild(el("th", {"data-column": field}, label));
  const holder = document.getElementById("cards");
  for (const [field, label] of cards) {
    const card = el("div", {class: "card", "data-card": field});
    card.appendChild(el("div", {class: "label"}, label));
    card.appendChild(el("div", {class: "value", "data-total": field}, DASH));
    const svg = document.createElementNS("http://www.w3.org/2000/svg", "svg");
    svg.setAttribute("viewBox", "0 0 200 40");
    svg.setAttribute("preserveAspectRatio", "none");
    card.appendChild(svg);
    card.appendChild(el("div", {class: "span"}, ""));
    holder.appendChild(card);
  }
}

function statusClass(field, row) {
  if (field === "status") return row.status === "healthy" ? "ok" : row.status === "draining" || row.status === "loading" ? "warn" : "bad";
  if (field === "breaker") return row.breaker == null ? "" : row.breaker === "closed" ? "ok" : row.breaker === "open" ? "bad" : "warn";
  if (field === "errors") return row.errors > 0 ? "warn" : "";
  return "";
}

function fillCell(td, field, format, row) {
  const value = row[field];
  td.textContent = format(value, row);
  td.className = statusClass(field, row);
  if ((field === "kv_cache_usage" || field === "prefix_cache_hit_rate") && value != null) {
    const bar = el("span", {class: "bar"});
    const fill = el("i");
    fill.style.width = Math.min(100, Math.max(0, value * 100)).toFixed(1) + "%";
    bar.appendChild(fill);
    td.prepend(bar);
  }
  if (field === "status" && row.scrape_error) td.appendChild(el("span", {class: "note"}, "metrics: " + row.scrape_error));
}

function renderRows(rows) {
  const body = document.getElementById("rows");
  const seen = new Set();
  for (const row of rows) {
    seen.add(row.id);
    let tr = Array.from(body.children).find(r => r.dataset.rowId === row.id);
    if (!tr) {
      tr = el("tr", {"data-row-id": row.id});
      for (const [field] of columns) tr.appendChild(el("td", {"data-field": field}));
      body.appendChild(tr);
    }
    tr.dataset.healthy = row.healthy ? "true" : "false";
    tr.dataset.status = row.status;
    columns.forEach(([field, , format], i) => fillCell(tr.children[i], field, format, row));
  }
  for (const tr of Array.from(body.children)) if (!seen.has(tr.dataset.rowId)) tr.remove();
  document.getElementById("empty").hidden = rows.length > 0;
}

function renderTotals(totals) {
  const tr = document.getElementById("totals");
  tr.textContent = "";
  const pool = Object.assign({}, totals, {id: "Pool", models: [],
    status: totals.healthy_replicas + "/" + totals.replicas + " healthy", breaker: null});
  for (const [field, , format] of columns) {
    const td = el("td", {"data-total-field": field});
    td.textContent = field === "breaker" ? "" : format(pool[field], pool);
    if (field === "status") td.className = totals.healthy_replicas === totals.replicas ? "ok" : totals.healthy_replicas > 0 ? "warn" : "bad";
    tr.appendChild(td);
  }
}

function sparkline(svg, history, pick, now, span, color) {
  svg.textContent = "";
  const ns = "http://www.w3.org/2000/svg";
  const points = history.map(p => [now - p.time, pick(p)]);
  const values = points.map(p => p[1]).filter(v => v != null);
  const max = Math.max(1e-9, ...values);
  const x = age => 200 - (Math.min(age, span) / span) * 200;
  const y = v => 38 - (v / max) * 34;
  let path = "", area = "", start = null, last = null;
  for (const [age, v] of points) {
    if (v == null) {
      if (start != null) area += "L" + last.toFixed(1) + ",40 L" + start.toFixed(1) + ",40 Z ";
      start = null;
      continue;
    }
    const px = x(age), py = y(v);
    path += (start == null ? "M" : "L") + px.toFixed(1) + "," + py.toFixed(1) + " ";
    area += (start == null ? "M" + px.toFixed(1) + ",40 L" : "L") + px.toFixed(1) + "," + py.toFixed(1) + " ";
    if (start == null) start = px;
    last = px;
  }
  if (start != null) area += "L" + last.toFixed(1) + ",40 L" + start.toFixed(1) + ",40 Z";
  const fill = document.createElementNS(ns, "path");
  fill.setAttribute("d", area || "M0,40");
  fill.setAttribute("fill", color);
  fill.setAttribute("fill-opacity", "0.15");
  svg.appendChild(fill);
  const line = document.createElementNS(ns, "path");
  line.setAttribute("d", path || "M0,40");
  line.setAttribute("fill", "none");
  line.setAttribute("stroke", color);
  line.setAttribute("stroke-width", "1.5");
  line.setAttribute("vector-effect", "non-scaling-stroke");
  svg.appendChild(line);
  const title = document.createElementNS(ns, "title");
  title.textContent = "max " + max.toFixed(2);
  svg.appendChild(title);
}

function renderCards(data) {
  const history = data.history || [];
  // The x axis spans the history kept so far (up to history_seconds), at least ten samplings.
  const span = Math.max(history.length ? data.now - history[0].time : 0, data.interval_seconds * 10);
  const spanText = span >= 120 ? "last " + Math.round(span / 6) / 10 + " min" : "last " + Math.round(span) + " s";
  const latest = history.length ? history[history.length - 1] : {};
  for (const [field, , pick, format, color] of cards) {
    const card = document.querySelector('[data-card="' + field + '"]');
    let value = pick(latest);
    if (field === "output_tokens_per_second") value = data.totals.output_tokens_per_second ?? value;
    if (field === "kv_cache_usage") value = data.totals.kv_cache_usage ?? value;
    card.querySelector(".value").textContent = field === "healthy_replicas"
      ? (latest.healthy_replicas ?? 0) + "/" + (latest.replicas ?? 0) : format(value);
    sparkline(card.querySelector("svg"), history, pick, data.now, span, color);
    card.querySelector(".span").textContent = spanText;
  }
}

function render(data) {
  document.title = data.title;
  document.getElementById("meta").textContent = "sampled every " + data.interval_seconds + " s \u00b7 tok/s over "
    + data.rate_window_seconds + " s \u00b7 TTFT and prefix hits over " + data.quantile_window_seconds + " s";
  renderRows(data.rows);
  renderTotals(data.totals);
  renderCards(data);
  document.body.dataset.updates = String(Number(document.body.dataset.updates) + 1);
}

let interval = 2000;
async function tick() {
  const state = document.getElementById("state");
  try {
    const response = await fetch(dataURL, {cache: "no-store"});
    if (!response.ok) throw new Error("HTTP " + response.status);
    const data = await response.json();
    interval = Math.max(500, (data.interval_seconds || 2) * 1000);
    render(data);
    state.textContent = "live";
    state.className = "live";
  } catch (error) {
    state.textContent = "no data: " + error.message;
    state.className = "stale";
  } finally {
    setTimeout(tick, interval);
  }
}
setup();
tick();
</script>
</body>
</html>
"""#
}
