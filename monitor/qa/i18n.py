"""The QA report's words in the reviewer's language: en, id, ms, ro (issue #12).

The report is written for a reviewer (a team lead, a QA analyst), who may not read English;
the JSON export stays in English (field names and the notes a tool reads), and the HTML is
rendered in the language asked for, each coaching note followed by its English original so
a report can be handed on. Written by us (an AI helper, not native speakers); every language
has every key (checked at import, like the playbook's cards).
"""

from __future__ import annotations

from monitor.languages import LANGUAGE_CODES, resolve

LABELS: dict[str, dict[str, str]] = {
    "en": {
        "title": "QA report",
        "call": "Call",
        "call_id": "Call id",
        "agent": "Agent",
        "queue_language": "Queue / language",
        "detected": "detected",
        "status": "Status",
        "length": "Length",
        "lowest_sentiment": "Lowest sentiment",
        "peak_risk": "Peak risk",
        "risk_sentiment": "Risk and sentiment",
        "legend": "red: escalation risk 0-100; blue: customer sentiment -1..+1; "
        "triangles: alerts; green dots: cards.",
        "incident": "Incident",
        "span": "Span",
        "supervisor_informed": "supervisor informed",
        "yes": "yes",
        "no": "no",
        "coaching_notes": "Coaching notes",
        "alerts": "Alerts",
        "at": "at",
        "severity": "severity",
        "kind": "kind",
        "message": "message",
        "acked_by": "acknowledged by",
        "cards": "Cards",
        "card": "card",
        "text": "text",
        "agent_col": "agent",
        "muted_audio": "Muted audio",
        "muted_text": "The recording is silent on the speaker's channel where redacted "
        "details were said:",
        "transcript": "Transcript",
        "english": "English",
    },
    "id": {
        "title": "Laporan QA",
        "call": "Panggilan",
        "call_id": "ID panggilan",
        "agent": "Agen",
        "queue_language": "Antrean / bahasa",
        "detected": "terdeteksi",
        "status": "Status",
        "length": "Durasi",
        "lowest_sentiment": "Sentimen terendah",
        "peak_risk": "Risiko tertinggi",
        "risk_sentiment": "Risiko dan sentimen",
        "legend": "merah: risiko eskalasi 0-100; biru: sentimen pelanggan -1..+1; "
        "segitiga: peringatan; titik hijau: kartu.",
        "incident": "Insiden",
        "span": "Rentang",
        "supervisor_informed": "supervisor diberi tahu",
        "yes": "ya",
        "no": "tidak",
        "coaching_notes": "Catatan pembinaan",
        "alerts": "Peringatan",
        "at": "waktu",
        "severity": "tingkat",
        "kind": "jenis",
        "message": "pesan",
        "acked_by": "ditanggapi oleh",
        "cards": "Kartu",
        "card": "kartu",
        "text": "teks",
        "agent_col": "agen",
        "muted_audio": "Audio yang dibisukan",
        "muted_text": "Rekaman dibisukan di kanal pembicara saat data yang disamarkan diucapkan:",
        "transcript": "Transkrip",
        "english": "Bahasa Inggris",
    },
    "ms": {
        "title": "Laporan QA",
        "call": "Panggilan",
        "call_id": "ID panggilan",
        "agent": "Ejen",
        "queue_language": "Giliran / bahasa",
        "detected": "dikesan",
        "status": "Status",
        "length": "Tempoh",
        "lowest_sentiment": "Sentimen terendah",
        "peak_risk": "Risiko tertinggi",
        "risk_sentiment": "Risiko dan sentimen",
        "legend": "merah: risiko eskalasi 0-100; biru: sentimen pelanggan -1..+1; "
        "segi tiga: amaran; titik hijau: kad.",
        "incident": "Insiden",
        "span": "Tempoh",
        "supervisor_informed": "penyelia dimaklumkan",
        "yes": "ya",
        "no": "tidak",
        "coaching_notes": "Nota bimbingan",
        "alerts": "Amaran",
        "at": "masa",
        "severity": "tahap",
        "kind": "jenis",
        "message": "mesej",
        "acked_by": "diakui oleh",
        "cards": "Kad",
        "card": "kad",
        "text": "teks",
        "agent_col": "ejen",
        "muted_audio": "Audio yang disenyapkan",
        "muted_text": "Rakaman disenyapkan pada saluran penutur semasa butiran yang "
        "disembunyikan disebut:",
        "transcript": "Transkrip",
        "english": "Bahasa Inggeris",
    },
    "ro": {
        "title": "Raport QA",
        "call": "Apel",
        "call_id": "ID apel",
        "agent": "Agent",
        "queue_language": "Coadă / limbă",
        "detected": "detectată",
        "status": "Stare",
        "length": "Durată",
        "lowest_sentiment": "Sentimentul cel mai scăzut",
        "peak_risk": "Risc maxim",
        "risk_sentiment": "Risc și sentiment",
        "legend": "roșu: riscul de escaladare 0-100; albastru: sentimentul clientului -1..+1; "
        "triunghiuri: alerte; puncte verzi: carduri.",
        "incident": "Incident",
        "span": "Interval",
        "supervisor_informed": "supervizor informat",
        "yes": "da",
        "no": "nu",
        "coaching_notes": "Note de coaching",
        "alerts": "Alerte",
        "at": "la",
        "severity": "gravitate",
        "kind": "tip",
        "message": "mesaj",
        "acked_by": "confirmată de",
        "cards": "Carduri",
        "card": "card",
        "text": "text",
        "agent_col": "agent",
        "muted_audio": "Audio amuțit",
        "muted_text": "Înregistrarea este amuțită pe canalul vorbitorului acolo unde s-au "
        "spus date ascunse:",
        "transcript": "Transcriere",
        "english": "Engleză",
    },
}

# Coaching notes: one template per kind, filled with str.format from the stored call.
NOTES: dict[str, dict[str, str]] = {
    "en": {
        "talk_over": "Talked over the customer {n} time(s), first at {at}: let them finish; "
        "acknowledging comes before solving.",
        "sentiment_recovered": "Customer sentiment recovered: {first} at the start, {last} at "
        "the end.",
        "sentiment_worsened": "Customer sentiment worsened: {first} at the start, {last} at "
        "the end.",
        "sentiment_held": "Customer sentiment held: {first} at the start, {last} at the end.",
        "ended_unhappy": "The call ended with the customer still unhappy: close with a recap "
        "and ask whether every question is answered.",
        "risk_peak": "Risk peaked at {risk} ({level}) at {at}{said}.",
        "said": ' after "{text}"',
        "card_used": 'At {at} the monitor suggested "{title}"; the agent used it.',
        "card_dismissed": 'At {at} the monitor suggested "{title}"; the agent dismissed it.',
        "card_none": 'At {at} the monitor suggested "{title}"; no feedback from the agent.',
        "critical_unacked": "Critical alert {kind} at {at} was never acknowledged by a supervisor.",
        "fast": "Spoke fast ({rate} words/s on average): slow down, especially while the "
        "customer is upset.",
        "incident": "Abuse or threats in this call: it is kept as an incident record; the "
        "agent should tell their supervisor and take a short break.",
    },
    "id": {
        "talk_over": "Memotong pembicaraan pelanggan {n} kali, pertama pada {at}: biarkan "
        "mereka selesai; akui perasaannya dulu, baru beri solusi.",
        "sentiment_recovered": "Sentimen pelanggan membaik: {first} di awal, {last} di akhir.",
        "sentiment_worsened": "Sentimen pelanggan memburuk: {first} di awal, {last} di akhir.",
        "sentiment_held": "Sentimen pelanggan stabil: {first} di awal, {last} di akhir.",
        "ended_unhappy": "Panggilan berakhir dengan pelanggan masih tidak puas: tutup dengan "
        "rangkuman dan tanyakan apakah semua pertanyaan sudah terjawab.",
        "risk_peak": "Risiko tertinggi {risk} ({level}) pada {at}{said}.",
        "said": ' setelah "{text}"',
        "card_used": 'Pada {at} monitor menyarankan "{title}"; agen memakainya.',
        "card_dismissed": 'Pada {at} monitor menyarankan "{title}"; agen menutupnya.',
        "card_none": 'Pada {at} monitor menyarankan "{title}"; tidak ada tanggapan dari agen.',
        "critical_unacked": "Peringatan kritis {kind} pada {at} tidak pernah ditanggapi "
        "supervisor.",
        "fast": "Berbicara cepat (rata-rata {rate} kata/detik): pelankan, terutama saat "
        "pelanggan sedang kesal.",
        "incident": "Ada makian atau ancaman dalam panggilan ini: disimpan sebagai catatan "
        "insiden; agen sebaiknya melapor ke supervisor dan beristirahat sejenak.",
    },
    "ms": {
        "talk_over": "Mencelah pelanggan {n} kali, kali pertama pada {at}: biar mereka habis "
        "bercakap; akui perasaan dahulu, kemudian selesaikan.",
        "sentiment_recovered": "Sentimen pelanggan pulih: {first} pada permulaan, {last} pada "
        "akhir.",
        "sentiment_worsened": "Sentimen pelanggan merosot: {first} pada permulaan, {last} pada "
        "akhir.",
        "sentiment_held": "Sentimen pelanggan kekal: {first} pada permulaan, {last} pada akhir.",
        "ended_unhappy": "Panggilan tamat dengan pelanggan masih tidak berpuas hati: tutup "
        "dengan ringkasan dan tanya sama ada semua soalan telah dijawab.",
        "risk_peak": "Risiko tertinggi {risk} ({level}) pada {at}{said}.",
        "said": ' selepas "{text}"',
        "card_used": 'Pada {at} monitor mencadangkan "{title}"; ejen menggunakannya.',
        "card_dismissed": 'Pada {at} monitor mencadangkan "{title}"; ejen menolaknya.',
        "card_none": 'Pada {at} monitor mencadangkan "{title}"; tiada maklum balas ejen.',
        "critical_unacked": "Amaran kritikal {kind} pada {at} tidak pernah diakui penyelia.",
        "fast": "Bercakap laju (purata {rate} patah perkataan/saat): perlahankan, terutama "
        "semasa pelanggan marah.",
        "incident": "Terdapat kata-kata kesat atau ugutan dalam panggilan ini: disimpan "
        "sebagai rekod insiden; ejen patut memberitahu penyelia dan berehat sebentar.",
    },
    "ro": {
        "talk_over": "A vorbit peste client de {n} ori, prima dată la {at}: lăsați clientul "
        "să termine; întâi recunoașteți ce simte, apoi rezolvați.",
        "sentiment_recovered": "Sentimentul clientului și-a revenit: {first} la început, "
        "{last} la final.",
        "sentiment_worsened": "Sentimentul clientului s-a înrăutățit: {first} la început, "
        "{last} la final.",
        "sentiment_held": "Sentimentul clientului s-a menținut: {first} la început, {last} "
        "la final.",
        "ended_unhappy": "Apelul s-a încheiat cu clientul tot nemulțumit: încheiați cu un "
        "rezumat și întrebați dacă s-a răspuns la toate întrebările.",
        "risk_peak": "Riscul a atins maximul {risk} ({level}) la {at}{said}.",
        "said": " după „{text}”",
        "card_used": "La {at} monitorul a sugerat „{title}”; agentul l-a folosit.",
        "card_dismissed": "La {at} monitorul a sugerat „{title}”; agentul l-a respins.",
        "card_none": "La {at} monitorul a sugerat „{title}”; niciun răspuns de la agent.",
        "critical_unacked": "Alerta critică {kind} de la {at} nu a fost confirmată de niciun "
        "supervizor.",
        "fast": "A vorbit repede ({rate} cuvinte/s în medie): mai rar, mai ales când clientul "
        "este supărat.",
        "incident": "Insulte sau amenințări în acest apel: este păstrat ca incident; agentul "
        "ar trebui să-și anunțe supervizorul și să ia o scurtă pauză.",
    },
}

for _table in (LABELS, NOTES):
    if set(_table) != set(LANGUAGE_CODES):
        raise RuntimeError(f"QA report texts cover {sorted(_table)}, not {LANGUAGE_CODES}")
    for _lang, _texts in _table.items():
        if set(_texts) != set(_table["en"]):
            raise RuntimeError(
                f"QA report texts in {_lang!r} lack {set(_table['en']) - set(_texts)}"
            )


def labels(language: str) -> dict[str, str]:
    return LABELS[resolve(language)]


def note(language: str, key: str, **params: object) -> str:
    return NOTES[resolve(language)][key].format(**params)
