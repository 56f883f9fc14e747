"""The call store with real events, a real SQLite file and real WAV files."""

from __future__ import annotations

import dataclasses
import sqlite3
import wave
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from monitor import events as ev
from monitor.bus import EventBus
from monitor.qa.example import CARD_DIGITS, DURATION, example_audio, example_call
from monitor.redact.pii import redact_event
from monitor.store.audio import AudioWriter, repair_wav
from monitor.store.db import CallStore
from monitor.store.schema import MIGRATIONS, SCHEMA_VERSION, SchemaError, migrate

RATE = 8_000


def store_call(store: CallStore, call_id: str, agent: str = "agent-7", name: str = "x") -> None:
    """Write the example call the way the pipeline does: audio as it goes, redacted events."""
    audio = example_audio(RATE)
    events = example_call(call_id, agent, name)
    writer = store.open_audio(call_id, RATE, 2)
    finals = {e.seq: e for e in events if isinstance(e, ev.FinalUtterance)}
    pos = 0
    for e in events:
        if isinstance(e, ev.FinalUtterance | ev.CallEnded):
            upto = int((e.end if isinstance(e, ev.FinalUtterance) else e.at) * RATE)
            while pos < upto:
                writer.write(audio[pos : pos + 800])
                pos += 800
        if isinstance(e, ev.CallEnded):
            writer.close()
        store.persist(redact_event(e))
    assert finals


@pytest.fixture
def store(tmp_path: Path) -> Iterator[CallStore]:
    s = CallStore(tmp_path / "calls.db")
    yield s
    s.close()


def test_everything_about_a_call_is_kept(store: CallStore) -> None:
    store_call(store, "call-1")
    call = store.get_call("call-1")
    meta = call["call"]
    assert (meta["name"], meta["agent_id"], meta["queue"], meta["status"]) == (
        "x", "agent-7", "billing", "completed",
    )  # fmt: skip
    assert meta["end_at"] == DURATION
    assert meta["audio_seconds"] == pytest.approx(DURATION)
    assert [u["seq"] for u in call["utterances"]] == list(range(8))
    first = call["utterances"][0]
    assert first["words"][0] == {"text": "Thank", "start": 0.5, "end": first["words"][0]["end"],
                                 "confidence": 0.9}  # fmt: skip
    assert first["features"]["pitch_hz"] == 180.0
    assert len(call["scores"]) == 8 and call["scores"][3]["intents"] == [["manager_demand", 0.95]]
    assert len(call["risks"]) == 8 and [r["n"] for r in call["risks"]] == list(range(8))
    assert [(a["kind"], a["acked_by"]) for a in call["alerts"]] == [
        ("manager_demand", "sup-1"), ("abuse", None),
    ]  # fmt: skip
    assert [(c["kind"], c["feedback"]) for c in call["cards"]] == [
        ("stop_listen", "dismissed"), ("take_ownership", "used"),
    ]  # fmt: skip
    assert call["talk_overs"] == [{"n": 0, "speaker": "agent", "start": 6.5, "end": 7.0}]
    assert store.integrity_check() == "ok"


def test_partials_are_not_kept_and_unknown_calls_get_a_row(store: CallStore) -> None:
    store.persist(ev.PartialUtterance("lost", "customer", 0, "hello", 0.0, 1.0))
    with pytest.raises(KeyError, match="no call 'lost'"):
        store.get_call("lost")
    store.persist(ev.FinalUtterance("orphan", "customer", 0, "hello there", 0.0, 1.0))
    assert store.get_call("orphan")["utterances"][0]["text"] == "hello there"


async def test_no_unmasked_card_or_phone_reaches_the_store(tmp_path: Path) -> None:
    """Through a real bus with the store as its sink, events redacted as the pipeline does:
    neither the database file, its WAL, nor any subscriber sees the digits."""
    store = CallStore(tmp_path / "calls.db")
    bus = EventBus()
    bus.add_sink(store.sink)
    sub = bus.subscribe("client", maxsize=1000)

    for e in example_call("pii-1"):
        await bus.publish(redact_event(e))
    bus.close()
    seen = [e async for e in sub]
    texts = [e.text for e in seen if isinstance(e, ev.FinalUtterance | ev.PartialUtterance)]
    assert any("[card]" in t for t in texts) and any("[phone]" in t for t in texts)
    raw = b"".join(p.read_bytes() for p in tmp_path.glob("calls.db*"))
    store.close()
    raw += (tmp_path / "calls.db").read_bytes()
    for secret in (CARD_DIGITS, "7946", "four five seven two three", "0958"):
        assert secret.encode() not in raw
        assert all(secret not in t for t in texts)


def test_redacted_speech_is_silenced_in_the_recording(store: CallStore) -> None:
    store_call(store, "quiet-1")
    path = store.audio_path("quiet-1")
    assert path is not None
    data, rate = sf.read(path)
    assert data.shape == (int(DURATION * RATE), 2) and rate == RATE
    words = store.get_call("quiet-1")["utterances"][4]["words"]
    card = next(w for w in words if w["text"] == "[card]")
    margin = store.mute_margin_s  # word times are estimates: the span is widened
    span = data[int((card["start"] - margin) * RATE) : int((card["end"] + margin) * RATE)]
    assert np.abs(span[:, 0]).max() == 0.0, "the customer's channel is muted"
    assert np.abs(span[:, 1]).max() > 0.0, "the agent's channel is not"
    muted = store.get_call("quiet-1")["muted_audio"]
    assert [(m["speaker"], m["label"]) for m in muted] == [("customer", "[card]"),
                                                            ("customer", "[phone]")]  # fmt: skip
    assert muted[0]["start"] == pytest.approx(card["start"] - margin, abs=1e-3)
    before = data[int(9.5 * RATE) : int(12.5 * RATE)]  # the manager demand stays audible
    assert np.abs(before).max() > 0.1


def test_search_filters(store: CallStore) -> None:
    store_call(store, "a", agent="agent-7", name="angry refund")
    store.persist(ev.CallStarted("b", "calm billing", "agent-9", queue="billing"))
    store.persist(ev.FinalUtterance("b", "customer", 0, "Thanks, that solved it", 1.0, 3.0))
    store.persist(ev.UtteranceScore("b", 0, "customer", 3.0, "positive", (0.02, 0.18, 0.8)))
    store.persist(ev.CallEnded("b", 4.0))

    def ids(**kw: object) -> list[str]:
        return sorted(c["call_id"] for c in store.search(**kw))  # type: ignore[arg-type]

    assert ids() == ["a", "b"]
    assert ids(q="speak to your MANAGER") == ["a"]
    assert ids(q="that solved") == ["b"]
    assert ids(q="50%_") == []
    assert ids(agent="agent-9") == ["b"]
    assert ids(max_sentiment=-0.5) == ["a"]
    assert ids(min_sentiment=0.5) == ["b"]
    assert ids(alert="abuse") == ["a"] and ids(alert="critical") == ["a"]
    assert ids(alert="any") == ["a"] and ids(alert="legal_threat") == []
    assert ids(date_from="2000-01-01", date_to="2999-12-31") == ["a", "b"]
    assert ids(date_to="2000-01-01") == []
    hit = store.search(q="manager")[0]
    assert hit["match"]["seq"] == 3 and hit["alert_kinds"] == ["abuse", "manager_demand"]
    assert hit["sentiment_min"] < -0.8 and hit["risk_max"] > 80
    with pytest.raises(ValueError, match="bad date"):
        store.search(date_from="yesterday")


def test_full_text_search_phrases_and_odd_input(store: CallStore) -> None:
    """Search goes through the FTS5 index: a phrase is words in order (not anywhere in the
    call), the last word may be cut short, case and diacritics fold for every script, and
    whatever is typed is data: FTS5 query syntax in the input never raises."""
    store_call(store, "a", name="angry refund")
    store.persist(ev.CallStarted("ro", "apel Ştefan", "agent-9", language="ro"))
    store.persist(ev.FinalUtterance("ro", "customer", 0, "Vreau să vorbesc cu ŞEFUL dvs", 1, 3))
    store.persist(ev.FinalUtterance("ro", "customer", 1, 'He said "NEAR" AND left', 4, 6))

    def ids(q: str) -> list[str]:
        return sorted(c["call_id"] for c in store.search(q=q))

    assert ids("speak to your manager") == ["a"]
    assert ids("manager your speak") == []  # the words, but not in this order
    assert ids("speak to your mana") == ["a"]  # typing: the last word is a prefix
    assert ids("şeful") == ["ro"] and ids("SEFUL DVS") == ["ro"]  # case and diacritics fold
    assert ids("stefan") == ["ro"] and ids("angry refund") == ["a"]  # the call's name too
    assert ids('"near" and') == ["ro"]  # quotes and operators are words like any other
    for odd in ('"', '""', "AND", "OR NOT", "NEAR(a b)", "*", "-manager", "col:manager",
                "a^b", "(", ")", "'", "%", "\\", "[card]", "🙂", "x" * 500, "\x00",
                "a\x00b", "\ud800"):  # fmt: skip
        store.search(q=odd)  # never an FTS5 syntax error
    assert ids("[card]") == ["a"]  # the placeholder is findable: which calls had a card read
    assert store.search(q="vorbesc")[0]["match"]["seq"] == 0


def test_search_index_follows_a_corrected_utterance(store: CallStore) -> None:
    store.persist(ev.FinalUtterance("c", "customer", 0, "I want a refund", 0, 1))
    store.persist(ev.FinalUtterance("c", "customer", 0, "I want a manager", 0, 1))  # same seq
    assert [c["call_id"] for c in store.search(q="manager")] == ["c"]
    assert store.search(q="refund") == []  # the replaced text left the index


def test_upgrading_a_version_2_store_indexes_its_calls(tmp_path: Path) -> None:
    path = tmp_path / "v2.db"
    conn = sqlite3.connect(path, isolation_level=None)
    migrate(conn, target=2)
    conn.execute("INSERT INTO calls (call_id, name, started_at) VALUES ('old', 'old call', 1.0)")
    conn.execute(
        "INSERT INTO utterances (call_id, seq, speaker, text, start, end)"
        " VALUES ('old', 0, 'customer', 'cancel my contract today', 0, 2)"
    )
    conn.close()
    with CallStore(path) as s:
        assert [c["call_id"] for c in s.search(q="cancel my contract")] == ["old"]
        assert [c["call_id"] for c in s.search(q="old call")] == ["old"]


def test_replaying_the_same_call_stores_identical_content(store: CallStore) -> None:
    store_call(store, "run-1")
    store_call(store, "run-2")
    assert store.export_call("run-1") == store.export_call("run-2")
    a = store.audio_path("run-1")
    b = store.audio_path("run-2")
    assert a is not None and b is not None and a.read_bytes() == b.read_bytes()


def test_recover_marks_unfinished_calls_interrupted(tmp_path: Path) -> None:
    s = CallStore(tmp_path / "c.db")
    events = [e for e in example_call("cut") if not isinstance(e, ev.CallEnded)][:12]
    writer = s.open_audio("cut", RATE, 2)
    writer.write(example_audio(RATE)[: 5 * RATE])
    for e in events:
        s.persist(redact_event(e))
    s._writers.clear()  # as if the process died: nobody closes the recording
    s._writer.close()  # (what was persisted is committed: persist waited for it)
    s._conn.close()
    s2 = CallStore(tmp_path / "c.db")
    assert s2.recover() == ["cut"]
    call = s2.get_call("cut")["call"]
    assert call["status"] == "interrupted"
    assert call["end_at"] >= 5.0 and call["audio_seconds"] == pytest.approx(5.0)
    assert s2.recover() == []
    s2.close()


def test_repair_wav_fixes_header_and_torn_frame(tmp_path: Path) -> None:
    w = AudioWriter(tmp_path / "x.wav", RATE, 2)
    w.write(np.full((RATE, 2), 0.25, dtype=np.float32))
    w._file.close()  # no close(): header as last written
    with open(tmp_path / "x.wav", "r+b") as f:  # a crash: more data than the header says,
        f.seek(40)  # and half a sample frame at the end
        f.write((0).to_bytes(4, "little"))
        f.seek(0, 2)
        f.write(b"\x01\x02\x03")
    assert repair_wav(tmp_path / "x.wav") == pytest.approx(1.0)
    with wave.open(str(tmp_path / "x.wav")) as r:
        assert (r.getnframes(), r.getnchannels(), r.getframerate()) == (RATE, 2, RATE)


def test_writer_rejects_wrong_shape(tmp_path: Path) -> None:
    w = AudioWriter(tmp_path / "x.wav", RATE, 2)
    with pytest.raises(ValueError, match=r"shape \(n, 2\)"):
        w.write(np.zeros(100, dtype=np.float32))
    w.close()
    with pytest.raises(ValueError, match="already closed"):
        w.write(np.zeros((10, 2), dtype=np.float32))


def test_retention_deletes_old_audio_keeps_text(tmp_path: Path) -> None:
    now = 1_800_000_000.0
    s = CallStore(tmp_path / "c.db", retention_days=30, clock=lambda: now - 40 * 86_400.0)
    store_call(s, "old")
    path = s.audio_path("old")
    assert path is not None
    assert s.apply_retention(now=now - 20 * 86_400.0) == 0
    assert s.apply_retention(now=now) == 1
    assert not path.exists() and s.audio_path("old") is None
    call = s.get_call("old")
    assert len(call["utterances"]) == 8 and len(call["scores"]) == 8
    assert call["call"]["audio_available"] is False
    assert s.apply_retention(now=now) == 0
    s.close()
    assert CallStore(tmp_path / "d.db").apply_retention() == 0  # no retention: keep forever


def test_schema_migrates_from_version_1_and_refuses_newer(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    conn = sqlite3.connect(path, isolation_level=None)
    migrate(conn, target=1)
    conn.execute("INSERT INTO calls (call_id, name, started_at) VALUES ('v1', 'old call', 1.0)")
    conn.close()
    s = CallStore(path)
    assert s._conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    assert s.get_call("v1")["call"]["name"] == "old call"
    assert s._conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    s.close()
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute(f"PRAGMA user_version = {len(MIGRATIONS) + 1}")
    conn.close()
    with pytest.raises(SchemaError, match=r"knows only"):
        CallStore(path)


def test_not_a_database_is_a_clear_error(tmp_path: Path) -> None:
    bad = tmp_path / "bad.db"
    bad.write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(sqlite3.DatabaseError, match="is it a callmon database"):
        CallStore(bad)


def test_ack_of_an_unknown_alert_is_logged_not_fatal(store: CallStore) -> None:
    store.persist(ev.CallStarted("c", "c", "a"))
    store.persist(ev.AlertAcknowledged("nope", "c", "sup"))
    store.persist(ev.CardFeedback("nope", "c", "used"))
    assert store.get_call("c")["alerts"] == []


def test_alert_resent_keeps_its_acknowledgement(store: CallStore) -> None:
    store.persist(ev.CallStarted("c", "c", "a"))
    alert = ev.Alert("c", "c:a1", 1.0, "warning", "manager_demand", "m")
    store.persist(alert)
    store.persist(ev.AlertAcknowledged("c:a1", "c", "sup-2"))
    store.persist(dataclasses.replace(alert, severity="critical"))
    (a,) = store.get_call("c")["alerts"]
    assert (a["severity"], a["acked_by"]) == ("critical", "sup-2")
