// Shared by the supervisor board and the agent panel: the live stream with
// reconnect + resync, the event reducer's helpers, and the label table (i18n).
"use strict";

const PROTOCOL_VERSION = 1;

const I18N = {
  en: {
    board: "Supervisor board", calls: "Calls", agent: "Agent", call: "Call", duration: "Duration",
    sentiment: "Sentiment", risk: "Risk", trend: "Trend", latest_alert: "Latest alert",
    alerts: "Alerts", ack: "Acknowledge", assign_to: "Assign to", acknowledged: "acknowledged",
    no_alerts: "No open alerts", transcript: "Transcript", cards_shown: "Cards shown to the agent",
    strain: "Agent strain", no_strain: "No agent is under strain", hostile: "hostile calls",
    of_recent: "of the last", live: "live", reconnecting: "reconnecting…", ended: "ended",
    no_calls: "No calls yet", customer: "Customer", agent_speaker: "Agent", select_call:
    "Select a call to see its live transcript", negative: "negative", neutral: "neutral",
    positive: "positive", calm: "calm", watch: "watch", at_risk: "at risk",
    escalated: "escalated", used: "used", dismissed: "dismissed", dismiss: "Dismiss",
    mark_used: "Used it", your_call: "Your call", no_call: "Waiting for your next call",
    quiet: "Nothing needed right now. You're doing fine.", critical: "critical",
    warning: "warning", info: "info", show_transcript: "Transcript of your call",
    call_ended: "Call ended",
    detected: "detected", detecting: "detecting language…",
  },
  id: {
    board: "Papan supervisor", calls: "Panggilan", agent: "Agen", call: "Panggilan",
    duration: "Durasi", sentiment: "Sentimen", risk: "Risiko", trend: "Tren",
    latest_alert: "Peringatan terakhir", alerts: "Peringatan", ack: "Tandai ditangani",
    assign_to: "Tugaskan ke", acknowledged: "ditangani", no_alerts: "Tidak ada peringatan",
    transcript: "Transkrip", cards_shown: "Kartu yang ditampilkan ke agen",
    strain: "Beban agen", no_strain: "Tidak ada agen yang terbebani",
    hostile: "panggilan bermusuhan", of_recent: "dari", live: "langsung",
    reconnecting: "menyambung ulang…", ended: "selesai", no_calls: "Belum ada panggilan",
    customer: "Pelanggan", agent_speaker: "Agen",
    select_call: "Pilih panggilan untuk melihat transkripnya", negative: "negatif",
    neutral: "netral", positive: "positif", calm: "tenang", watch: "waspada",
    at_risk: "berisiko", escalated: "tereskalasi", used: "dipakai", dismissed: "diabaikan",
    dismiss: "Abaikan", mark_used: "Sudah dipakai", your_call: "Panggilan Anda",
    no_call: "Menunggu panggilan berikutnya",
    quiet: "Tidak ada yang perlu dilakukan. Anda baik-baik saja.", critical: "kritis",
    warning: "peringatan", info: "info", show_transcript: "Transkrip panggilan Anda",
    call_ended: "Panggilan selesai",
    detected: "terdeteksi", detecting: "mendeteksi bahasa…",
  },
  ms: {
    board: "Papan penyelia", calls: "Panggilan", agent: "Ejen", call: "Panggilan",
    duration: "Tempoh", sentiment: "Sentimen", risk: "Risiko", trend: "Trend",
    latest_alert: "Amaran terkini", alerts: "Amaran", ack: "Akui", assign_to: "Tugaskan kepada",
    acknowledged: "diakui", no_alerts: "Tiada amaran terbuka", transcript: "Transkrip",
    cards_shown: "Kad yang ditunjukkan kepada ejen", strain: "Tekanan ejen",
    no_strain: "Tiada ejen yang tertekan", hostile: "panggilan kasar", of_recent: "daripada",
    live: "langsung", reconnecting: "menyambung semula…", ended: "tamat",
    no_calls: "Belum ada panggilan", customer: "Pelanggan", agent_speaker: "Ejen",
    select_call: "Pilih panggilan untuk melihat transkrip langsung", negative: "negatif",
    neutral: "neutral", positive: "positif", calm: "tenang", watch: "perhati",
    at_risk: "berisiko", escalated: "memuncak", used: "digunakan", dismissed: "ditolak",
    dismiss: "Tolak", mark_used: "Sudah guna", your_call: "Panggilan anda",
    no_call: "Menunggu panggilan seterusnya",
    quiet: "Tiada apa-apa diperlukan sekarang. Anda baik.", critical: "kritikal",
    warning: "amaran", info: "maklumat", show_transcript: "Transkrip panggilan anda",
    call_ended: "Panggilan tamat",
    detected: "dikesan", detecting: "mengesan bahasa…",
  },
  ro: {
    board: "Panou supervizor", calls: "Apeluri", agent: "Agent", call: "Apel",
    duration: "Durată", sentiment: "Sentiment", risk: "Risc", trend: "Tendință",
    latest_alert: "Ultima alertă", alerts: "Alerte", ack: "Confirmă", assign_to: "Atribuie lui",
    acknowledged: "confirmate", no_alerts: "Nicio alertă deschisă", transcript: "Transcriere",
    cards_shown: "Carduri afișate agentului", strain: "Solicitarea agenților",
    no_strain: "Niciun agent suprasolicitat", hostile: "apeluri ostile", of_recent: "din ultimele",
    live: "live", reconnecting: "se reconectează…", ended: "încheiat",
    no_calls: "Niciun apel încă", customer: "Client", agent_speaker: "Agent",
    select_call: "Alegeți un apel pentru transcrierea live", negative: "negativ",
    neutral: "neutru", positive: "pozitiv", calm: "calm", watch: "atenție",
    at_risk: "în risc", escalated: "escaladat", used: "folosit", dismissed: "respins",
    dismiss: "Respinge", mark_used: "L-am folosit", your_call: "Apelul dvs.",
    no_call: "Așteptați următorul apel",
    quiet: "Nu este nevoie de nimic acum. Vă descurcați bine.", critical: "critic",
    warning: "avertisment", info: "info", show_transcript: "Transcrierea apelului dvs.",
    call_ended: "Apel încheiat",
    detected: "detectată", detecting: "se detectează limba…",
  },
};

const params = new URLSearchParams(window.location.search);
let LANG = params.get("lang") || "en";

function setLanguage(lang) {
  LANG = I18N[lang] ? lang : "en";
  document.documentElement.lang = LANG;
  for (const el of document.querySelectorAll("[data-i18n]")) el.textContent = t(el.dataset.i18n);
}

function t(key) {
  return (I18N[LANG] && I18N[LANG][key]) || I18N.en[key] || key;
}

// A call's language as the pages show it (issue #12): its code; for a call whose language was
// detected (monitor/asr/detect.py), that it was and the detector's confidence ("ID · detected
// 71%"); while it is being detected, only that.
function languageText(started) {
  const code = (started.language || "en").toUpperCase();
  if (started.language_source === "detecting") return t("detecting");
  if (started.language_source === "detected") {
    const p = Math.round(100 * (started.language_probability || 0));
    return `${code} · ${t("detected")} ${p}%`;
  }
  return code;
}

function el(tag, attrs = {}, ...children) {
  // Text only ever goes in as text nodes: transcripts are untrusted input.
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (k === "class") node.className = v;
    else if (k === "text") node.textContent = v;
    else if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
    else if (k.startsWith("data-")) node.setAttribute(k, v);
    else node.setAttribute(k, v === true ? "" : v);
  }
  for (const c of children) if (c !== null && c !== undefined) node.append(c);
  return node;
}

function fmtDuration(seconds) {
  const s = Math.max(0, Math.floor(seconds || 0));
  return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, "0")}`;
}

// The live stream: one websocket, reconnect with backoff, the snapshot always comes first.
class LiveStream {
  constructor({ onSnapshot, onEvent, onStatus, onError }) {
    this.handlers = { onSnapshot, onEvent, onStatus, onError };
    this.token = params.get("token") || "";
    this.queue = params.get("queue") || "";
    this.delay = 500;
    this.ws = null;
    this.connected = false;
    this.messages = 0;
  }

  url() {
    const scheme = window.location.protocol === "https:" ? "wss" : "ws";
    const q = new URLSearchParams({ token: this.token });
    if (this.queue) q.set("queue", this.queue);
    return `${scheme}://${window.location.host}/ws?${q}`;
  }

  start() {
    if (!this.token) {
      this.status("no_token");
      return;
    }
    this.connect();
  }

  connect() {
    const ws = new WebSocket(this.url());
    this.ws = ws;
    ws.onopen = () => {
      this.delay = 500;
    };
    ws.onmessage = (e) => {
      let msg;
      try {
        msg = JSON.parse(e.data);
      } catch (err) {
        return;
      }
      this.messages += 1;
      if (msg.type === "snapshot") {
        this.connected = true;
        this.status("live");
        this.handlers.onSnapshot(msg);
      } else if (msg.type === "error") {
        if (this.handlers.onError) this.handlers.onError(msg);
      } else if (msg.type !== "pong") {
        this.handlers.onEvent(msg);
      }
    };
    ws.onclose = (e) => {
      this.connected = false;
      this.status("reconnecting", e.code);
      // 1013 = too slow, 1001 = server restarting: both mean "come back and resync"
      setTimeout(() => this.connect(), this.delay);
      this.delay = Math.min(this.delay * 2, 5000);
    };
  }

  status(state, code) {
    document.body.dataset.connection = state;
    if (this.handlers.onStatus) this.handlers.onStatus(state, code);
  }

  send(message) {
    if (!this.ws || this.ws.readyState !== WebSocket.OPEN) return false;
    this.ws.send(JSON.stringify({ v: PROTOCOL_VERSION, ...message }));
    return true;
  }
}
