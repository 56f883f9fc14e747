// Supervisor board: one reducer for the snapshot and the live deltas, rendering throttled
// to one frame. Calls that need help sort to the top.
"use strict";

const LEVEL_RANK = { calm: 0, watch: 1, at_risk: 2, escalated: 3 };
const LEVEL_SHAPE = { calm: "○", watch: "△", at_risk: "◆", escalated: "⬣" };
const SENTI_SHAPE = { negative: "▼", neutral: "●", positive: "▲" };
const SEVERITY_SHAPE = { info: "ℹ", warning: "⚠", critical: "‼" };
const MAX_TRANSCRIPT = 300;

let state;
let selected = null;
let pulseIds = new Set();

function emptyState() {
  return { calls: new Map(), alerts: new Map(), strain: new Map() };
}

function callOf(id) {
  let c = state.calls.get(id);
  if (!c) {
    c = { id, started: null, ended: null, risks: [], risk: null, finals: new Map(),
      partials: {}, scores: new Map(), cards: new Map(), feedback: {}, lastAlert: null,
      time: 0, sentimentSum: null };
    state.calls.set(id, c);
  }
  return c;
}

const MAX_ENDED_CALLS = 50; // a board left open all week stays small

function forgetOldCalls() {
  const ended = [...state.calls.values()].filter((c) => c.ended);
  for (const c of ended.slice(0, Math.max(0, ended.length - MAX_ENDED_CALLS))) {
    state.calls.delete(c.id);
    for (const [id, a] of state.alerts) if (a.alert.call_id === c.id) state.alerts.delete(id);
    if (selected === c.id) selected = null;
  }
}

function sentimentLabel(value) {
  if (value === null || value === undefined) return "neutral";
  return value < -0.25 ? "negative" : value > 0.25 ? "positive" : "neutral";
}

function apply(e, live) {
  if (e.type === "agent_strain") {
    state.strain.set(e.agent_id, e);
    return;
  }
  if (e.type === "alert_ack") {
    const a = state.alerts.get(e.alert_id);
    if (a) a.ack = e;
    return;
  }
  if (!e.call_id) return;
  const c = callOf(e.call_id);
  const seen = e.end ?? e.at;
  if (typeof seen === "number") c.time = Math.max(c.time, seen);
  switch (e.type) {
    case "call_started": c.started = e; break;
    case "call_ended": c.ended = e; c.partials = {}; forgetOldCalls(); break;
    case "partial": c.partials[e.speaker] = e; break;
    case "final": {
      c.finals.set(e.seq, e);
      const p = c.partials[e.speaker];
      if (p && p.seq <= e.seq) delete c.partials[e.speaker];
      if (c.finals.size > MAX_TRANSCRIPT) c.finals.delete(c.finals.keys().next().value);
      break;
    }
    case "utterance_score": c.scores.set(e.seq, e); break;
    case "risk":
      c.risk = e;
      c.risks.push(e);
      if (c.risks.length > 120) c.risks.shift();
      break;
    case "alert":
      state.alerts.set(e.alert_id, { alert: e, ack: null });
      if (!c.lastAlert || e.at >= c.lastAlert.at) c.lastAlert = e;
      if (live && e.severity === "critical") signalCritical(e);
      break;
    case "card": c.cards.set(e.card_id, e); break;
    case "call_lag": c.lag = e; break; // overload: how far the call's analysis is behind
    case "card_feedback": c.feedback[e.card_id] = e.action; break;
    default: break;
  }
}

// ---- critical: a visual pulse, and a short tone where the browser allows sound ----------------
let audioCtx = null;
function signalCritical(alert) {
  pulseIds.add(alert.alert_id);
  document.body.dataset.lastCritical = alert.alert_id;
  try {
    audioCtx = audioCtx || new (window.AudioContext || window.webkitAudioContext)();
    if (audioCtx.state !== "running") return; // no sound before the user has interacted
    const osc = audioCtx.createOscillator();
    const gain = audioCtx.createGain();
    osc.frequency.value = 880;
    gain.gain.setValueAtTime(0.15, audioCtx.currentTime);
    gain.gain.exponentialRampToValueAtTime(0.001, audioCtx.currentTime + 0.4);
    osc.connect(gain).connect(audioCtx.destination);
    osc.start();
    osc.stop(audioCtx.currentTime + 0.4);
  } catch (err) { /* sound is a bonus; the pulse is the signal */ }
}
document.addEventListener("click", () => { if (audioCtx) audioCtx.resume(); }, { once: true });

// ---- rendering ---------------------------------------------------------------------------------
let scheduled = false;
function render() {
  if (scheduled) return;
  scheduled = true;
  requestAnimationFrame(() => {
    scheduled = false;
    renderGrid();
    renderAlerts();
    renderStrain();
    renderDetail();
    pulseIds = new Set();
  });
}

function levelBadge(level, risk) {
  const lv = level || "calm";
  return el("span", { class: `level ${lv}`, "data-level": lv },
    el("span", { class: "shape", "aria-hidden": "true", text: LEVEL_SHAPE[lv] }),
    `${t(lv)}${risk !== undefined ? ` ${Math.round(risk)}` : ""}`);
}

function sentimentBadge(value) {
  const label = sentimentLabel(value);
  const num = value === null || value === undefined ? "" : ` ${value >= 0 ? "+" : ""}${value.toFixed(2)}`;
  return el("span", { class: `senti ${label}` },
    el("span", { "aria-hidden": "true", text: `${SENTI_SHAPE[label]} ` }), `${t(label)}${num}`);
}

function sparkline(risks) {
  const ns = "http://www.w3.org/2000/svg";
  const svg = document.createElementNS(ns, "svg");
  svg.setAttribute("class", "spark");
  svg.setAttribute("viewBox", "0 0 110 28");
  svg.setAttribute("role", "img");
  const last = risks.length ? Math.round(risks[risks.length - 1].risk) : 0;
  svg.setAttribute("aria-label", `risk trend, now ${last}`);
  const guide = document.createElementNS(ns, "line");
  for (const [k, v] of Object.entries({ x1: 0, x2: 110, y1: 14, y2: 14 })) guide.setAttribute(k, v);
  svg.append(guide);
  if (risks.length > 1) {
    const pts = risks.slice(-40);
    const line = document.createElementNS(ns, "polyline");
    const step = 108 / (pts.length - 1);
    line.setAttribute("points", pts.map((r, i) =>
      `${(1 + i * step).toFixed(1)},${(27 - (r.risk / 100) * 26).toFixed(1)}`).join(" "));
    svg.append(line);
  }
  return svg;
}

function trendArrow(risks) {
  // the trend in a glyph and words too, not only in the line's slope
  if (risks.length < 2) return el("span");
  const now = risks[risks.length - 1].risk;
  const before = risks[Math.max(0, risks.length - 4)].risk;
  const [glyph, word] = now - before > 5 ? ["↗", "rising"] : before - now > 5 ? ["↘", "falling"]
    : ["→", "steady"];
  return el("span", { class: `arrow ${word}`, title: word, "aria-label": word, text: glyph });
}

function delayBadge(c) {
  // the server says when a call falls behind (monitor/capacity.py): its text and scores are
  // late by lag_s, so what the row shows is older than it looks
  if (!c.lag || c.lag.state !== "delayed" || c.ended) return "";
  return el("span", { class: "delayed", "data-lag": String(c.lag.lag_s),
    title: `${t("delayed")}: ${c.lag.lag_s.toFixed(1)} s`,
    text: ` ${t("delayed")} ${c.lag.lag_s.toFixed(1)} s` });
}

function needScore(c) {
  // calls needing help on top: open critical alerts, then level, then risk; ended calls last
  const open = [...state.alerts.values()].filter((a) => !a.ack && a.alert.call_id === c.id);
  const critical = open.some((a) => a.alert.severity === "critical") ? 1 : 0;
  const level = c.risk ? LEVEL_RANK[c.risk.level] || 0 : 0;
  return (c.ended ? -1000 : 0) + critical * 500 + level * 100 + (c.risk ? c.risk.risk : 0);
}

function renderGrid() {
  const body = document.querySelector("#grid tbody");
  const calls = [...state.calls.values()].filter((c) => c.started);
  calls.sort((a, b) => needScore(b) - needScore(a));
  document.getElementById("no-calls").classList.toggle("hidden", calls.length > 0);
  const rows = calls.map((c) => {
    const level = c.risk ? c.risk.level : "calm";
    const row = el("tr", {
      class: `level-${level}${c.ended ? " ended" : ""}${selected === c.id ? " selected" : ""}` +
        `${c.lastAlert && pulseIds.has(c.lastAlert.alert_id) ? " pulse" : ""}`,
      "data-call-id": c.id, "data-level": level, tabindex: "0",
      onclick: () => { selected = c.id; render(); },
      onkeydown: (ev) => { if (ev.key === "Enter") { selected = c.id; render(); } },
    },
    el("td", {}, levelBadge(level, c.risk ? c.risk.risk : 0)),
    el("td", { text: c.started.agent_id }),
    el("td", {}, c.started.name, " ", langBadge(c.started)),
    el("td", { class: "duration" },
      c.ended ? `${fmtDuration(c.ended.at)} (${t("ended")})` : fmtDuration(c.time),
      delayBadge(c)),
    el("td", {}, sentimentBadge(c.risk ? c.risk.sentiment : null)),
    el("td", { class: "trend" }, sparkline(c.risks), trendArrow(c.risks)),
    el("td", { class: "alert-cell" }, c.lastAlert
      ? `${SEVERITY_SHAPE[c.lastAlert.severity]} ${c.lastAlert.message}` : ""));
    return row;
  });
  body.replaceChildren(...rows);
}

function sendAck(alertId, assignInput) {
  stream.send({ type: "ack_alert", alert_id: alertId, assign_to: assignInput.value.trim() });
}

function renderAlerts() {
  const list = document.getElementById("alerts");
  const all = [...state.alerts.values()];
  const open = all.filter((a) => !a.ack).sort((a, b) =>
    (b.alert.severity === "critical") - (a.alert.severity === "critical") || b.alert.at - a.alert.at);
  // keep what a supervisor is typing in an assign box across re-renders
  const typing = {};
  for (const input of list.querySelectorAll("input")) typing[input.dataset.alertId] = input.value;
  const focused = document.activeElement && document.activeElement.dataset.alertId;
  list.replaceChildren(...open.map(({ alert }) => {
    const call = state.calls.get(alert.call_id);
    const who = call && call.started ? `${call.started.agent_id} · ${call.started.name}` : alert.call_id;
    const assign = el("input", { type: "text", placeholder: t("assign_to"),
      "aria-label": t("assign_to"), "data-alert-id": alert.alert_id });
    assign.value = typing[alert.alert_id] || "";
    const item = el("li", {
      class: `${alert.severity}${pulseIds.has(alert.alert_id) ? " pulse" : ""}`,
      "data-alert-id": alert.alert_id, "data-severity": alert.severity,
    },
    el("div", {}, el("strong", { text: `${SEVERITY_SHAPE[alert.severity]} ${t(alert.severity)}: ` }),
      alert.message),
    el("div", { class: "meta", text: `${who} · ${fmtDuration(alert.at)} · ${alert.kind}` }),
    el("div", { class: "actions" },
      el("button", { class: "primary ack", "data-alert-id": alert.alert_id, text: t("ack"),
        onclick: () => sendAck(alert.alert_id, assign) }),
      assign));
    if (focused === alert.alert_id) setTimeout(() => assign.focus(), 0);
    return item;
  }));
  const acked = all.length - open.length;
  document.getElementById("no-alerts").classList.toggle("hidden", open.length > 0);
  document.getElementById("alert-count").textContent = open.length ? String(open.length) : "";
  document.getElementById("acked").textContent = acked ? `${acked} ${t("acknowledged")}` : "";
}

function renderStrain() {
  const list = document.getElementById("strain");
  const flagged = [...state.strain.values()].filter((s) => s.hostile_calls > 0);
  list.replaceChildren(...flagged.map((s) => el("li", { "data-agent-id": s.agent_id },
    el("strong", { text: `⚑ ${s.agent_id}` }),
    ` — ${s.hostile_calls} ${t("hostile")} (${t("of_recent")} ${s.recent_calls})`,
    el("div", { class: "muted", text: s.suggestion }))));
  document.getElementById("no-strain").classList.toggle("hidden", flagged.length > 0);
}

function renderDetail() {
  const box = document.getElementById("detail");
  const c = selected && state.calls.get(selected);
  if (!c || !c.started) {
    box.replaceChildren(el("p", { class: "empty", text: t("select_call") }));
    return;
  }
  const list = el("ol", { class: "transcript", "data-testid": "transcript" });
  const lines = [...c.finals.values()].sort((a, b) => a.start - b.start || a.seq - b.seq);
  for (const f of lines) {
    const score = c.scores.get(f.seq);
    list.append(el("li", { class: `final ${f.speaker}`, "data-seq": f.seq },
      el("span", { class: "who", text: t(f.speaker === "agent" ? "agent_speaker" : "customer") }),
      el("span", { class: "text", text: f.text }),
      score ? sentimentBadge(score.probabilities[2] - score.probabilities[0]) : el("span")));
  }
  for (const p of Object.values(c.partials)) {
    list.append(el("li", { class: `partial ${p.speaker}`, "data-seq": p.seq },
      el("span", { class: "who", text: t(p.speaker === "agent" ? "agent_speaker" : "customer") }),
      el("span", { class: "text", text: p.text }), el("span")));
  }
  const cards = el("ul", { class: "detail-cards", "data-testid": "detail-cards" },
    ...[...c.cards.values()].map((card) => el("li", { "data-card-id": card.card_id },
      el("strong", { text: card.title }),
      c.feedback[card.card_id] ? ` (${t(c.feedback[card.card_id])})` : "")));
  const wasAtBottom = box.querySelector(".transcript");
  const stick = !wasAtBottom || wasAtBottom.scrollTop + wasAtBottom.clientHeight >= wasAtBottom.scrollHeight - 8;
  box.replaceChildren(
    el("h2", {}, `${c.started.name} — ${c.started.agent_id} `, langBadge(c.started)),
    el("h3", { text: t("transcript") }), list,
    el("h3", { text: t("cards_shown") }), cards);
  if (stick) list.scrollTop = list.scrollHeight;
}

// The call's language (en, id, ms, ro): which recogniser, cues and cards it gets (issue #12).
// A detected language says so, with the detector's confidence (languageText, common.js).
function langBadge(started) {
  return el("span", { class: "lang-badge", "data-testid": "call-language", lang: started.language,
    "data-language-source": started.language_source || "given", text: languageText(started) });
}

// ---- wiring ------------------------------------------------------------------------------------
state = emptyState();
const stream = new LiveStream({
  onSnapshot(msg) {
    fillLanguages(msg.languages);
    state = emptyState();
    for (const e of msg.events) apply(e, false);
    render();
  },
  onEvent(e) {
    apply(e, true);
    render();
  },
  onStatus(s) {
    document.getElementById("conn").textContent = s === "live" ? t("live") :
      s === "no_token" ? "no token in the URL" : t("reconnecting");
  },
  onError(msg) {
    console.warn("server said:", msg.code, msg.message);
  },
});
const langSelect = document.getElementById("lang");
// The picker lists the languages the server supports (monitor/languages.py), sent with every
// snapshot, so adding one there needs no change here; until then it offers English alone.
function fillLanguages(list) {
  if (!Array.isArray(list) || !list.length) return;
  langSelect.replaceChildren(...list.map((l) => el("option", { value: l.code, text: l.name })));
  langSelect.value = list.some((l) => l.code === LANG) ? LANG : "en";
}
langSelect.value = I18N[LANG] ? LANG : "en";
langSelect.addEventListener("change", () => { setLanguage(langSelect.value); render(); });
setLanguage(LANG);
window.callmon = { stream, get state() { return state; } };
stream.start();
