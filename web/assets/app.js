// The signal browser's page: device list, a device's blocks and signals with live values
// (server-sent events from /api/events), a small plot per numeric signal, and writes to
// downward signals after login and a confirmation. Only this server's /api is used.
"use strict";

const $ = (id) => document.getElementById(id);
const HISTORY_MAX = 300;
const NUMERIC = new Set(["boolean", "char", "uchar", "short", "ushort", "int", "uint",
  "int64", "long", "float", "double", "dec01", "dec001"]);

const app = {
  devices: [],
  selected: decodeURIComponent(location.hash.slice(1)) || null,
  detail: null,
  user: null,
  rows: new Map(),      // "block.signal" -> row elements of the shown device
  history: new Map(),   // "block.signal" -> [[t, number], ...] of the shown device
  pending: null,        // the write waiting for confirmation
  reloadTimer: null,
};

async function api(method, path, body) {
  const opt = { method, headers: {}, credentials: "same-origin" };
  if (body !== undefined) {
    opt.headers["Content-Type"] = "application/json";
    opt.body = JSON.stringify(body);
  }
  const r = await fetch("/api" + path, opt);
  let data = null;
  try { data = await r.json(); } catch (_) { /* an empty or non-JSON body */ }
  if (!r.ok) throw new Error((data && data.error) || `${r.status} ${r.statusText}`);
  return data;
}

const enc = encodeURIComponent;

function el(tag, attrs, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (k === "class") e.className = v;
    else if (k.startsWith("on")) e.addEventListener(k.slice(2), v);
    else if (v !== undefined && v !== null && v !== false) e.setAttribute(k, v === true ? "" : v);
  }
  for (const c of children) {
    if (c !== null && c !== undefined) e.append(c);
  }
  return e;
}

let toastTimer = null;
function toast(text, bad) {
  const t = $("toast");
  t.textContent = text;
  t.className = "show" + (bad ? " bad" : "");
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => { t.className = ""; }, bad ? 8000 : 4000);
}

// ---- state bits ------------------------------------------------------------------

function stateClass(s) {
  if (!s) return "";
  if (s.orange && s.yellow) return "red";
  if (s.orange) return "orange";
  if (s.yellow) return "yellow";
  return s.connected ? "connected" : "";
}

function stateChips(s) {
  const box = el("span", { class: "chips" });
  if (!s) return box;
  box.append(el("span", { class: "chip " + (s.connected ? "connected" : "off") },
    s.connected ? "connected" : "no value"));
  if (s.orange && s.yellow) box.append(el("span", { class: "chip red" }, "red"));
  else {
    if (s.orange) box.append(el("span", { class: "chip orange" }, "orange"));
    if (s.yellow) box.append(el("span", { class: "chip yellow" }, "yellow"));
  }
  box.title = `state byte 0x${s.bits.toString(16).padStart(2, "0")}`;
  return box;
}

// ---- values ----------------------------------------------------------------------

function fmtNumber(v, sig) {
  if (typeof v !== "number") return String(v);
  // The map's `digs` is how many decimals a person wants to see of a float.
  if (sig && sig.digs !== null && sig.digs !== undefined && (sig.type === "float" || sig.type === "double")) {
    return v.toFixed(Math.min(sig.digs, 12));
  }
  return Number.isInteger(v) ? String(v) : String(+v.toPrecision(7));
}

function valueNode(sig, value, text) {
  if (value === null || value === undefined) return el("span", { class: "v none" }, text || "—");
  if (Array.isArray(value)) {
    const list = el("span", { class: "v array" });
    value.forEach((x, i) => list.append(el("span", { class: "item", title: `[${i}]` },
      typeof x === "boolean" ? (x ? "1" : "0") : fmtNumber(x, sig))));
    return list;
  }
  if (typeof value === "string") return el("span", { class: "v str" }, JSON.stringify(value));
  if (typeof value === "boolean") return el("span", { class: "v bool " + (value ? "on" : "off") }, value ? "true" : "false");
  const unit = sig && sig.unit ? el("span", { class: "unit" }, " " + sig.unit) : null;
  return el("span", { class: "v num" }, fmtNumber(value, sig), unit);
}

function plottable(sig) {
  return NUMERIC.has(sig.type) && sig.array <= 1;
}

function asNumber(v) {
  if (typeof v === "boolean") return v ? 1 : 0;
  return typeof v === "number" ? v : null;
}

// ---- the plot --------------------------------------------------------------------

const SVG = "http://www.w3.org/2000/svg";
function svg(tag, attrs) {
  const e = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
  return e;
}

function drawPlot(box, points, step) {
  const W = 180, H = 38, P = 3;
  box.replaceChildren();
  const s = svg("svg", { viewBox: `0 0 ${W} ${H}`, width: W, height: H, class: "plot" });
  box.append(s);
  if (points.length === 0) {
    const t = svg("text", { x: W / 2, y: H / 2 + 4, "text-anchor": "middle", class: "plot-empty" });
    t.textContent = "no history yet";
    s.append(t);
    return;
  }
  const t0 = points[0][0], t1 = Math.max(points[points.length - 1][0], Date.now());
  let lo = Infinity, hi = -Infinity;
  for (const [, v] of points) { lo = Math.min(lo, v); hi = Math.max(hi, v); }
  if (lo === hi) { lo -= 1; hi += 1; }
  const x = (t) => P + (t1 === t0 ? W - 2 * P : (t - t0) / (t1 - t0) * (W - 2 * P));
  const y = (v) => H - P - (v - lo) / (hi - lo) * (H - 2 * P);
  let d = "";
  points.forEach(([t, v], i) => {
    if (i === 0) d += `M${x(t).toFixed(1)},${y(v).toFixed(1)}`;
    else {
      // Signals hold their value until the next change: draw steps, not slopes.
      if (step) d += `H${x(t).toFixed(1)}`;
      d += `L${x(t).toFixed(1)},${y(v).toFixed(1)}`;
    }
  });
  d += `H${x(t1).toFixed(1)}`;
  s.append(svg("path", { d, class: "plot-line" }));
  const last = points[points.length - 1];
  s.append(svg("circle", { cx: x(t1), cy: y(last[1]), r: 2.5, class: "plot-dot" }));
  box.title = `${points.length} values, min ${fmtNumber(Math.min(...points.map((p) => p[1])))}, ` +
    `max ${fmtNumber(Math.max(...points.map((p) => p[1])))}`;
}

// ---- device list -----------------------------------------------------------------

async function loadDevices() {
  app.devices = await api("GET", "/devices");
  const ul = $("device-list");
  ul.replaceChildren();
  $("no-devices").hidden = app.devices.length > 0;
  for (const d of app.devices) {
    const li = el("li", {
      class: (d.id === app.selected ? "selected " : "") + (d.connected ? "up" : "down"),
      "data-device": d.id,
      onclick: () => select(d.id),
    },
      el("span", { class: "dot " + (d.connected ? "connected" : "") }),
      el("span", { class: "dev-name" }, `${d.name}${d.number}`),
      el("span", { class: "dev-net" }, "." + d.network),
      el("span", { class: "dev-note" }, d.connected ? (d.has_map ? "" : "no map yet") : "disconnected"));
    ul.append(li);
  }
  if (!app.selected && app.devices.length > 0) await select(app.devices[0].id);
}

async function select(id) {
  app.selected = id;
  history.replaceState(null, "", "#" + enc(id));
  for (const li of $("device-list").children) {
    li.classList.toggle("selected", li.dataset.device === id);
  }
  await loadDetail();
}

// ---- one device ------------------------------------------------------------------

async function loadDetail() {
  const id = app.selected;
  if (!id) return;
  let d;
  try {
    d = await api("GET", `/devices/${enc(id)}`);
  } catch (e) {
    $("detail").replaceChildren(el("p", { class: "empty" }, e.message));
    return;
  }
  if (id !== app.selected) return;
  app.detail = d;
  app.rows.clear();
  app.history.clear();
  const detail = $("detail");
  detail.replaceChildren(
    el("div", { class: "dev-head" },
      el("h2", {}, d.id),
      el("span", { class: "badge " + (d.connected ? "connected" : "off") },
        d.connected ? "connected" : "disconnected"),
      d.has_map ? null : el("span", { class: "badge off" }, "signal map not known yet")));
  for (const b of d.blocks) {
    if (b.signals.length === 0) continue;
    detail.append(renderBlock(d, b));
  }
  const rest = d.blocks.filter((b) => b.signals.length === 0).map((b) => `${b.name} (${b.size} bytes)`);
  if (rest.length) detail.append(el("p", { class: "other-blocks" }, "Other blocks: " + rest.join(", ")));
  updateWriteButtons();
  // Seed the plots with what the server remembers.
  await Promise.all(d.blocks.flatMap((b) => b.signals.filter(plottable).map(async (s) => {
    const key = `${b.name}.${s.name}`;
    try {
      const h = await api("GET", `/devices/${enc(d.id)}/signals/${enc(b.name)}/${enc(s.name)}/history`);
      const pts = h.points.map((p) => [p.t, asNumber(p.value)]).filter((p) => p[1] !== null);
      const known = app.history.get(key) || [];
      app.history.set(key, pts.concat(known.filter((p) => p[0] > (pts.length ? pts[pts.length - 1][0] : 0))));
    } catch (_) { /* the plot just starts empty */ }
    redrawPlot(key);
  })));
}

function renderBlock(d, b) {
  const dir = b.downward ? "down" : "up";
  const table = el("table", { class: "signals" },
    el("thead", {}, el("tr", {},
      el("th", {}, "signal"), el("th", {}, "value"), el("th", {}, "state"),
      el("th", {}, "recent"), el("th", {}, b.downward ? "write" : ""))));
  const body = el("tbody");
  for (const s of b.signals) body.append(renderRow(d, b, s));
  table.append(body);
  return el("article", { class: "block " + dir, "data-block": b.name },
    el("h3", {}, b.name,
      el("span", { class: "dir" }, b.downward ? "↓ down: the server writes it" : "↑ up: the device writes it"),
      el("span", { class: "size" }, `${b.size} bytes`)),
    b.title ? el("p", { class: "title" }, b.title) : null,
    table);
}

function typeLabel(s) {
  if (s.type === "str") return `str[${s.array}]`;
  return s.array > 1 ? `${s.type}[${s.array}]` : s.type;
}

function renderRow(d, b, s) {
  const key = `${b.name}.${s.name}`;
  const value = el("td", { class: "value" }, valueNode(s, s.value, s.error || s.text));
  const state = el("td", { class: "state" }, stateChips(s.state));
  const plot = el("td", { class: "recent" });
  let write = el("td", { class: "write" });
  if (b.downward) {
    const input = el("input", {
      class: "write-input",
      placeholder: s.type === "str" ? "text" : s.array > 1 ? "1, 2, 3" : s.type,
      "aria-label": `new value of ${key}`,
    });
    const button = el("button", { class: "write-button", type: "button" }, "Write…");
    const go = () => askWrite(d, b, s, input);
    button.addEventListener("click", go);
    input.addEventListener("keydown", (e) => { if (e.key === "Enter") go(); });
    write.append(input, button);
  }
  const tr = el("tr", { "data-signal": key, class: "st-" + stateClass(s.state) },
    el("td", { class: "name" }, el("span", { class: "sig-name" }, s.name),
      el("span", { class: "type" }, typeLabel(s))),
    value, state, plot, write);
  app.rows.set(key, { tr, value, state, plot, sig: s });
  if (!plottable(s)) plot.append(el("span", { class: "muted" }, ""));
  return tr;
}

function redrawPlot(key) {
  const r = app.rows.get(key);
  if (!r || !plottable(r.sig)) return;
  drawPlot(r.plot, app.history.get(key) || [], true);
}

function onSignal(ev) {
  if (!app.detail || ev.device !== app.detail.id) return;
  const key = `${ev.block}.${ev.signal}`;
  const r = app.rows.get(key);
  if (!r) return;
  r.sig.value = ev.value;
  r.sig.text = ev.text;
  r.sig.state = ev.state;
  r.value.replaceChildren(valueNode(r.sig, ev.value, ev.text));
  r.state.replaceChildren(stateChips(ev.state));
  r.tr.className = "st-" + stateClass(ev.state);
  // Restart the highlight animation on every change.
  r.value.classList.remove("flash");
  void r.value.offsetWidth;
  r.value.classList.add("flash");
  if (plottable(r.sig)) {
    const n = asNumber(ev.value);
    if (n !== null) {
      const h = app.history.get(key) || [];
      h.push([ev.t, n]);
      if (h.length > HISTORY_MAX) h.splice(0, h.length - HISTORY_MAX);
      app.history.set(key, h);
      redrawPlot(key);
    }
  }
}

// Device events come in bursts (connect, map, many signals): reload once after them.
function scheduleReload() {
  clearTimeout(app.reloadTimer);
  app.reloadTimer = setTimeout(async () => {
    await loadDevices().catch((e) => toast(e.message, true));
    await loadDetail();
  }, 150);
}

// ---- writing ---------------------------------------------------------------------

function askWrite(d, b, s, input) {
  if (!app.user) { toast("Log in to write signals.", true); return; }
  const text = input.value.trim();
  if (text === "") { toast("Type a value first.", true); input.focus(); return; }
  app.pending = { device: d.id, block: b.name, signal: s.name, text, input };
  $("wd-signal").textContent = `${b.name}.${s.name}`;
  $("wd-device").textContent = d.id;
  $("wd-old").textContent = s.text !== undefined ? s.text : "—";
  $("wd-new").textContent = text;
  $("write-dialog").showModal();
}

$("write-dialog").addEventListener("close", async () => {
  const p = app.pending;
  app.pending = null;
  if (!p || $("write-dialog").returnValue !== "ok") return;
  try {
    const r = await api("PUT", `/devices/${enc(p.device)}/signals/${enc(p.block)}/${enc(p.signal)}`,
      { value: p.text });
    p.input.value = "";
    // Show the value now; the server does not echo its own writes as changes.
    onSignal({ device: r.device, block: p.block, signal: p.signal, value: r.value,
      text: r.text, state: r.state, t: Date.now() });
    toast(`Wrote ${p.block}.${p.signal} = ${r.text}`);
  } catch (e) {
    toast(e.message, true);
  }
});

function updateWriteButtons() {
  for (const b of document.querySelectorAll(".write-button, .write-input")) {
    b.disabled = !app.user;
    if (b.tagName === "BUTTON") b.title = app.user ? "" : "log in to write";
  }
}

// ---- login -----------------------------------------------------------------------

function showUser(user) {
  app.user = user;
  $("login-form").hidden = !!user;
  $("who").hidden = !user;
  $("who-name").textContent = user || "";
  updateWriteButtons();
}

$("login-form").addEventListener("submit", async (e) => {
  e.preventDefault();
  try {
    const r = await api("POST", "/login", { user: $("login-user").value, password: $("login-password").value });
    $("login-password").value = "";
    showUser(r.user);
    toast(`Logged in as ${r.user}`);
  } catch (err) {
    toast(err.message, true);
  }
});

$("logout-button").addEventListener("click", async () => {
  await api("POST", "/logout").catch(() => {});
  showUser(null);
});

// ---- live stream -----------------------------------------------------------------

function connectLive() {
  const es = new EventSource("/api/events");
  const live = $("live");
  es.onopen = () => { live.textContent = "live"; live.className = "live on"; scheduleReload(); };
  es.onerror = () => { live.textContent = "reconnecting…"; live.className = "live off"; };
  es.addEventListener("signal", (m) => onSignal(JSON.parse(m.data)));
  es.addEventListener("device", () => scheduleReload());
  es.addEventListener("lagged", () => scheduleReload());
}

(async function start() {
  try {
    const s = await api("GET", "/session");
    showUser(s.user);
  } catch (_) { showUser(null); }
  await loadDevices().catch((e) => toast(e.message, true));
  if (app.selected) await select(app.selected);
  connectLive();
  // Keeps the plots' time axis moving while values stand still.
  setInterval(() => { for (const k of app.rows.keys()) redrawPlot(k); }, 5000);
})();
