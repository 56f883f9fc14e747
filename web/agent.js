// Agent panel: only this agent's call (the server never sends anything else), the prompt
// cards newest on top in the agent's language, and quiet when nothing is needed.
"use strict";

let calls = new Map(); // call_id -> {started, ended, cards: Map, feedback, finals: Map, partials}
let current = null;

function callOf(id) {
  if (!calls.has(id)) {
    calls.set(id, { started: null, ended: null, cards: new Map(), feedback: {},
      finals: new Map(), partials: {} });
  }
  return calls.get(id);
}

function apply(e, live) {
  if (!e.call_id) return;
  const c = callOf(e.call_id);
  switch (e.type) {
    case "call_started":
      c.started = e;
      current = e.call_id; // the newest call is the one on the panel
      if (!params.get("lang")) setLanguage(e.language);
      break;
    case "call_ended": c.ended = e; c.partials = {}; break;
    case "card": c.cards.set(e.card_id, { card: e, fresh: live }); break;
    case "card_feedback": c.feedback[e.card_id] = e.action; break;
    case "final":
      c.finals.set(e.seq, e);
      if (c.partials[e.speaker] && c.partials[e.speaker].seq <= e.seq) delete c.partials[e.speaker];
      if (c.finals.size > 300) c.finals.delete(c.finals.keys().next().value);
      break;
    case "partial": c.partials[e.speaker] = e; break;
    default: break;
  }
}

function feedback(cardId, action) {
  stream.send({ type: "card_feedback", card_id: cardId, action });
}

let scheduled = false;
function render() {
  if (scheduled) return;
  scheduled = true;
  requestAnimationFrame(() => { scheduled = false; draw(); });
}

function draw() {
  const c = current && calls.get(current);
  const name = document.getElementById("call-name");
  const quiet = document.getElementById("quiet");
  const list = document.getElementById("cards");
  const transcript = document.getElementById("transcript");
  if (!c || !c.started) {
    name.textContent = "—";
    quiet.textContent = t("no_call");
    quiet.classList.remove("hidden");
    list.replaceChildren();
    transcript.replaceChildren();
    return;
  }
  // the call's language beside its name (issue #12): it says which cues and cards apply
  const named = `${c.started.name} · ${languageText(c.started)}`;
  name.textContent = c.ended ? `${named} (${t("call_ended")})` : named;
  // open cards newest on top; cards already used or dismissed sink to the bottom, faded
  const cards = [...c.cards.values()].sort((a, b) =>
    (!!c.feedback[a.card.card_id]) - (!!c.feedback[b.card.card_id]) || b.card.at - a.card.at);
  list.replaceChildren(...cards.map(({ card, fresh }) => {
    const done = c.feedback[card.card_id];
    const item = el("li", { class: `${done ? "done" : ""}${fresh ? " fresh" : ""}`,
      "data-card-id": card.card_id, "data-kind": card.kind, lang: card.language },
    el("h3", { text: card.title }),
    el("p", { text: card.body }),
    done
      ? el("div", { class: "actions" }, el("span", { class: "muted", text: t(done) }))
      : el("div", { class: "actions" },
        el("button", { class: "primary used", text: t("mark_used"),
          onclick: () => feedback(card.card_id, "used") }),
        el("button", { class: "dismiss", text: t("dismiss"),
          onclick: () => feedback(card.card_id, "dismissed") })));
    return item;
  }));
  for (const entry of c.cards.values()) entry.fresh = false;
  const open = cards.filter(({ card }) => !c.feedback[card.card_id]).length;
  quiet.textContent = c.ended ? t("call_ended") : t("quiet");
  quiet.classList.toggle("hidden", open > 0);
  const lines = [...c.finals.values()].sort((a, b) => a.start - b.start || a.seq - b.seq);
  transcript.replaceChildren(
    ...lines.map((f) => el("li", { class: `final ${f.speaker}` },
      el("span", { class: "who", text: t(f.speaker === "agent" ? "agent_speaker" : "customer") }),
      el("span", { class: "text", text: f.text }), el("span"))),
    ...Object.values(c.partials).map((p) => el("li", { class: `partial ${p.speaker}` },
      el("span", { class: "who", text: t(p.speaker === "agent" ? "agent_speaker" : "customer") }),
      el("span", { class: "text", text: p.text }), el("span"))));
}

const stream = new LiveStream({
  onSnapshot(msg) {
    calls = new Map();
    current = null;
    for (const e of msg.events) apply(e, false);
    render();
  },
  onEvent(e) { apply(e, true); render(); },
  onStatus(s) {
    document.getElementById("conn").textContent = s === "live" ? t("live") :
      s === "no_token" ? "no token in the URL" : t("reconnecting");
  },
});
setLanguage(LANG);
window.callmon = { stream, get calls() { return calls; } };
stream.start();
