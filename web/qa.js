// callmon QA page: search stored calls, open one, replay it with its transcript and curve.
// Talks to the store's HTTP API (monitor/qa/http.py). No inline scripts or styles: the
// server's Content-Security-Policy forbids them.
"use strict";

const SVG = "http://www.w3.org/2000/svg";
const W = 900, H = 240, L = 44, R = 44, T = 16, B = 28;

const $ = (sel) => document.querySelector(sel);
const state = { call: null, pendingSeek: null, audioUrl: null };

function mmss(sec) {
  const s = Math.max(0, Math.round(sec || 0));
  return String(Math.floor(s / 60)).padStart(2, "0") + ":" + String(s % 60).padStart(2, "0");
}

function el(tag, attrs = {}, text = "") {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
  if (text) node.textContent = text;
  return node;
}

function svgEl(tag, attrs = {}) {
  const node = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, String(v));
  return node;
}

function num(v, digits = 2, sign = true) {
  if (v === null || v === undefined) return "–";
  const s = Number(v).toFixed(digits);
  return sign && v > 0 ? "+" + s : s;
}

// The page's own ?token= goes with every API request (the API may require it).
const TOKEN = new URLSearchParams(location.search).get("token");
// The reviewer's language for the downloaded report (qa.html?lang=id|ms|ro; English otherwise).
const LANG = new URLSearchParams(location.search).get("lang");

function api(path, params) {
  const q = new URLSearchParams(params || {});
  if (TOKEN) q.set("token", TOKEN);
  const qs = q.toString();
  return path + (qs ? "?" + qs : "");
}

async function getJson(url) {
  const resp = await fetch(url);
  const body = await resp.json().catch(() => ({}));
  if (!resp.ok) throw new Error(body.error || `${resp.status} ${resp.statusText}`);
  return body;
}

// The call's language as stored (issue #12): its code, and for a language detected from the
// customer's first seconds, that it was and the detector's confidence ("id · detected 71%").
function languageLabel(m) {
  const code = m.language || "en";
  if (m.language_source === "detected") {
    const p = m.language_probability;
    return `${code} · detected` + (p === null || p === undefined ? "" : ` ${Math.round(100 * p)}%`);
  }
  if (m.language_source === "detecting") return `${code} · not detected (fallback)`;
  return code;
}

// ---- search -------------------------------------------------------------------------------

async function search(event) {
  if (event) event.preventDefault();
  const params = new URLSearchParams();
  for (const [k, v] of new FormData($("#search"))) if (String(v).trim()) params.set(k, String(v).trim());
  $("#status").textContent = "searching…";
  try {
    const data = await getJson(api("/api/calls", params));
    renderCalls(data.calls);
    $("#status").textContent = `${data.count} call(s)`;
  } catch (err) {
    $("#status").textContent = "search failed: " + err.message;
  }
}

function renderCalls(calls) {
  const body = $("#calls tbody");
  body.replaceChildren();
  const kinds = new Set();
  for (const c of calls) {
    c.alert_kinds.forEach((k) => kinds.add(k));
    const tr = el("tr", { "data-call-id": c.call_id });
    const started = new Date(c.started_at * 1000);
    const sent = c.sentiment_min;
    tr.append(
      el("td", {}, c.name || c.call_id),
      el("td", {}, c.agent_id),
      el("td", {}, started.toISOString().slice(0, 16).replace("T", " ")),
      el("td", {}, mmss(c.end_at ?? c.audio_seconds)),
      el("td", {}, c.status),
      el("td", { class: sent !== null && sent < -0.3 ? "neg" : sent > 0.3 ? "pos" : "" }, num(sent)),
      el("td", {}, c.risk_max === null ? "–" : Math.round(c.risk_max)),
      el("td", {}, c.alert_kinds.join(", ")),
      el("td", { class: "match" }, c.match ? `${mmss(c.match.start)} “${c.match.text}”` : ""),
    );
    tr.addEventListener("click", () => openCall(c.call_id));
    body.append(tr);
  }
  const list = $("#alert-kinds");
  for (const k of kinds) {
    if (![...list.options].some((o) => o.value === k)) list.append(el("option", { value: k }));
  }
}

// ---- one call -----------------------------------------------------------------------------

async function openCall(callId) {
  $("#status").textContent = "loading " + callId + "…";
  let call;
  try {
    call = await getJson(api("/api/calls/" + encodeURIComponent(callId)));
  } catch (err) {
    $("#status").textContent = "could not open the call: " + err.message;
    return;
  }
  state.call = call;
  history.replaceState(null, "", "#call=" + encodeURIComponent(callId));
  for (const tr of document.querySelectorAll("#calls tbody tr")) {
    tr.classList.toggle("selected", tr.dataset.callId === callId);
  }
  const m = call.call;
  $("#call").hidden = false;
  $("#call-title").textContent = m.name || m.call_id;
  $("#call-meta").textContent =
    `${m.call_id} · agent ${m.agent_id} · ${m.queue} · ${languageLabel(m)} · ${m.status} · ` +
    `${mmss(m.end_at)} · lowest sentiment ${num(m.sentiment_min)} · peak risk ` +
    `${m.risk_max === null ? "–" : Math.round(m.risk_max)}`;
  const base = "/api/calls/" + encodeURIComponent(m.call_id);
  // the report in the page's language (the reviewer's), English notes beside (issue #12)
  $("#report-link").href = api(base + "/report.html", LANG ? { lang: LANG } : {});
  $("#report-link").setAttribute("download", m.call_id + ".html");
  $("#export-link").href = api(base + "/report.json");
  $("#export-link").setAttribute("download", m.call_id + ".json");
  $("#incident-link").hidden = !call.incident;
  $("#incident-link").href = api(base + "/incident.json");
  $("#incident-link").setAttribute("download", m.call_id + ".incident.json");
  renderCurve(call);
  renderTranscript(call);
  renderSide(call);
  await loadAudio(base, m);
  $("#status").textContent = "";
}

async function loadAudio(base, meta) {
  const player = $("#player");
  const note = $("#audio-note");
  if (state.audioUrl) URL.revokeObjectURL(state.audioUrl);
  state.audioUrl = null;
  player.removeAttribute("src");
  note.hidden = true;
  if (!meta.audio_available) {
    note.hidden = false;
    note.textContent = meta.audio_deleted_at
      ? "The recording was deleted by the retention policy; text and scores are kept."
      : "No recording was kept for this call.";
    return;
  }
  // A blob URL is fully seekable; the server answers whole files, not byte ranges.
  const resp = await fetch(api(base + "/audio.wav"));
  if (!resp.ok) {
    note.hidden = false;
    note.textContent = "The recording could not be loaded (" + resp.status + ").";
    return;
  }
  state.audioUrl = URL.createObjectURL(await resp.blob());
  player.src = state.audioUrl;
  player.load();
}

function seek(t) {
  const player = $("#player");
  if (player.readyState >= 1) {
    player.currentTime = t;
  } else {
    state.pendingSeek = t;
  }
  updatePosition(t);
}

function duration(call) {
  const m = call.call;
  const ends = call.risks.map((r) => r.at).concat(call.utterances.map((u) => u.end));
  return Math.max(1, m.end_at || m.audio_seconds || Math.max(1, ...ends));
}

function renderCurve(call) {
  const dur = duration(call);
  const pw = W - L - R, ph = H - T - B;
  const x = (t) => (L + (pw * Math.min(Math.max(t, 0), dur)) / dur).toFixed(1);
  const yRisk = (r) => (T + ph * (1 - Math.min(Math.max(r, 0), 100) / 100)).toFixed(1);
  const ySent = (s) => (T + ph * (1 - (Math.min(Math.max(s, -1), 1) + 1) / 2)).toFixed(1);
  const svg = svgEl("svg", { id: "curve-svg", viewBox: `0 0 ${W} ${H}`, role: "img" });
  svg.append(svgEl("rect", { x: L, y: T, width: pw, height: ph, fill: "#fafafa", stroke: "#ccc" }));
  svg.append(svgEl("line", { x1: L, x2: L + pw, y1: ySent(0), y2: ySent(0), stroke: "#ddd", "stroke-dasharray": "4 4" }));
  const step = [5, 10, 15, 30, 60, 120, 300, 600, 1800, 3600].find((s) => dur / s <= 10) || 3600;
  for (let t = 0; t <= dur + 1e-9; t += step) {
    const label = svgEl("text", { x: x(t), y: H - 8, "font-size": 11, "text-anchor": "middle", fill: "#555" });
    label.textContent = mmss(t);
    svg.append(label);
  }
  for (const v of [0, 50, 100]) {
    const t = svgEl("text", { x: L - 6, y: Number(yRisk(v)) + 4, "font-size": 11, "text-anchor": "end", fill: "#b22" });
    t.textContent = String(v);
    svg.append(t);
  }
  for (const v of [-1, 0, 1]) {
    const t = svgEl("text", { x: L + pw + 6, y: Number(ySent(v)) + 4, "font-size": 11, fill: "#226" });
    t.textContent = v > 0 ? "+1" : String(v);
    svg.append(t);
  }
  if (call.risks.length) {
    svg.append(svgEl("polyline", {
      class: "risk", fill: "none", stroke: "#c22", "stroke-width": 2,
      points: call.risks.map((r) => `${x(r.at)},${yRisk(r.risk)}`).join(" "),
    }));
    svg.append(svgEl("polyline", {
      class: "sentiment", fill: "none", stroke: "#22a", "stroke-width": 2,
      points: call.risks.map((r) => `${x(r.at)},${ySent(r.sentiment)}`).join(" "),
    }));
    for (const r of call.risks) {
      svg.append(svgEl("circle", { class: "risk-point", cx: x(r.at), cy: yRisk(r.risk), r: 2.5, fill: "#c22" }));
      svg.append(svgEl("circle", { class: "sentiment-point", cx: x(r.at), cy: ySent(r.sentiment), r: 2.5, fill: "#22a" }));
    }
  } else if (call.scores.length) {
    const cust = call.scores.filter((s) => s.speaker === "customer");
    svg.append(svgEl("polyline", {
      class: "sentiment", fill: "none", stroke: "#22a", "stroke-width": 2,
      points: cust.map((s) => `${x(s.at)},${ySent(s.polarity)}`).join(" "),
    }));
  }
  // spans of the recording muted because redacted words (a card number...) were said there
  for (const m of call.muted_audio || []) {
    const x0 = Number(x(m.start)), x1 = Number(x(m.end));
    const band = svgEl("rect", {
      class: "muted-span", x: x0, y: T, width: Math.max(2, x1 - x0), height: ph,
      fill: "#888", "fill-opacity": 0.25, "data-start": m.start, "data-end": m.end,
      "data-label": m.label, "data-speaker": m.speaker,
    });
    const tip = svgEl("title");
    tip.textContent = `${mmss(m.start)}–${mmss(m.end)} ${m.speaker} ${m.label}: muted in the recording`;
    band.append(tip);
    band.addEventListener("click", (ev) => { ev.stopPropagation(); seek(m.start); });
    svg.append(band);
  }
  for (const c of call.cards) {
    const dot = svgEl("circle", {
      class: "marker card-marker", cx: x(c.at), cy: T + ph - 6, r: 6, fill: "#2a7",
      "data-at": c.at, "data-card-id": c.card_id,
    });
    const tip = svgEl("title");
    tip.textContent = `${mmss(c.at)} card: ${c.title}`;
    dot.append(tip);
    dot.addEventListener("click", () => seek(c.at));
    svg.append(dot);
  }
  for (const a of call.alerts) {
    const ax = Number(x(a.at));
    const color = a.severity === "critical" ? "#c00" : a.severity === "warning" ? "#e80" : "#888";
    const tri = svgEl("polygon", {
      class: "marker alert-marker", fill: color, "data-at": a.at, "data-alert-id": a.alert_id,
      points: `${ax - 7},${T - 4} ${ax + 7},${T - 4} ${ax},${T + 10}`,
    });
    const tip = svgEl("title");
    tip.textContent = `${mmss(a.at)} ${a.severity} ${a.kind}: ${a.message}`;
    tri.append(tip);
    tri.addEventListener("click", () => seek(a.at));
    svg.append(tri);
  }
  svg.append(svgEl("line", { id: "playhead", x1: L, x2: L, y1: T, y2: T + ph, stroke: "#000", "stroke-width": 1 }));
  svg.addEventListener("click", (ev) => {
    if (ev.target.classList && ev.target.classList.contains("marker")) return;
    const box = svg.getBoundingClientRect();
    const px = ((ev.clientX - box.left) / box.width) * W;
    if (px >= L && px <= L + pw) seek(((px - L) / pw) * dur);
  });
  $("#curve").replaceChildren(svg);
  state.x = x;
}

function renderTranscript(call) {
  const list = $("#transcript");
  list.replaceChildren();
  const scores = new Map(call.scores.map((s) => [s.seq, s]));
  for (const u of call.utterances) {
    const li = el("li", { class: u.speaker, "data-start": u.start, "data-end": u.end });
    const s = scores.get(u.seq);
    li.append(el("span", { class: "t" }, mmss(u.start)), el("span", { class: "who" }, u.speaker), document.createTextNode(u.text));
    if (s) li.title = `${s.sentiment} ${num(s.polarity)}` + (s.intents.length ? " · " + s.intents.map((i) => i[0]).join(", ") : "");
    li.addEventListener("click", () => seek(u.start));
    list.append(li);
  }
}

function renderSide(call) {
  const alerts = $("#alerts"), cards = $("#cards"), notes = $("#notes"), muted = $("#muted");
  muted.replaceChildren();
  for (const m of call.muted_audio || []) {
    const li = el("li", { class: "muted-item" }, `${mmss(m.start)}–${mmss(m.end)} ${m.speaker} ${m.label}`);
    li.addEventListener("click", () => seek(m.start));
    muted.append(li);
  }
  $("#muted-title").hidden = muted.children.length === 0;
  alerts.replaceChildren();
  cards.replaceChildren();
  notes.replaceChildren();
  for (const a of call.alerts) {
    const li = el("li", { class: "sev-" + a.severity }, `${mmss(a.at)} ${a.kind}: ${a.message}` + (a.acked_by ? ` (ack ${a.acked_by})` : ""));
    li.addEventListener("click", () => seek(a.at));
    alerts.append(li);
  }
  for (const c of call.cards) {
    const li = el("li", {}, `${mmss(c.at)} ${c.title}` + (c.feedback ? ` — ${c.feedback}` : ""));
    li.title = c.body;
    li.addEventListener("click", () => seek(c.at));
    cards.append(li);
  }
  for (const n of call.coaching_notes || []) notes.append(el("li", {}, n));
}

function updatePosition(t) {
  const head = document.getElementById("playhead");
  if (head && state.x) {
    head.setAttribute("x1", state.x(t));
    head.setAttribute("x2", state.x(t));
  }
  // the line being said, or (in a pause) the last one said: what the moment refers to
  let current = null;
  for (const li of document.querySelectorAll("#transcript li")) {
    if (Number(li.dataset.start) <= t + 1e-3) current = li;
  }
  for (const li of document.querySelectorAll("#transcript li")) {
    li.classList.toggle("current", li === current);
  }
}

// Erasure on request (supervisors only: the API refuses other tokens). Nothing of the call
// is kept but an audit entry saying who erased it and when.
async function eraseCall() {
  const call = state.call;
  if (!call) return;
  const id = call.call.call_id;
  if (!confirm(`Erase call ${id}? Its transcript, recording, scores, alerts and cards are ` +
               "deleted for good; an audit entry (who, when, which call) stays.")) return;
  $("#status").textContent = "erasing " + id + "…";
  try {
    const resp = await fetch(api("/api/calls/" + encodeURIComponent(id)), { method: "DELETE" });
    const body = await resp.json().catch(() => ({}));
    if (!resp.ok) throw new Error(body.error || `${resp.status} ${resp.statusText}`);
  } catch (err) {
    $("#status").textContent = "could not erase the call: " + err.message;
    return;
  }
  const player = $("#player");
  player.pause();
  player.removeAttribute("src");
  if (state.audioUrl) URL.revokeObjectURL(state.audioUrl);
  state.audioUrl = null;
  state.call = null;
  $("#call").hidden = true;
  history.replaceState(null, "", location.pathname + location.search);
  await search();
  $("#status").textContent = `call ${id} erased`;
}

function init() {
  $("#search").addEventListener("submit", search);
  $("#erase-call").addEventListener("click", eraseCall);
  const player = $("#player");
  player.addEventListener("timeupdate", () => updatePosition(player.currentTime));
  player.addEventListener("seeked", () => updatePosition(player.currentTime));
  player.addEventListener("loadedmetadata", () => {
    if (state.pendingSeek !== null) {
      player.currentTime = state.pendingSeek;
      state.pendingSeek = null;
    }
  });
  search();
  const m = location.hash.match(/^#call=(.+)$/);
  if (m) openCall(decodeURIComponent(m[1]));
}

document.addEventListener("DOMContentLoaded", init);
