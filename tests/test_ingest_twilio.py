"""TwilioStreamDecoder, synchronously: µ-law against libsndfile, track alignment, gaps, errors.

The µ-law reference is libsndfile's own G.711 codec (soundfile's ``ULAW`` subtype); the
messages are built the way Twilio sends them (one per track per 20 ms, base64 payloads).
"""

from __future__ import annotations

import base64
import io
import random
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest
import soundfile as sf

from monitor.ingest.twilio import (
    MULAW_TO_FLOAT,
    AudioBlock,
    CallDefaults,
    StreamStart,
    StreamStop,
    TwilioLimitError,
    TwilioProtocolError,
    TwilioStreamDecoder,
    decode_mulaw,
)

RATE = 8000
PACKET = 160  # 20 ms


def mulaw_encode(samples: np.ndarray) -> bytes:
    """float mono -> G.711 µ-law bytes, by libsndfile (the reference codec, not ours)."""
    buf = io.BytesIO()
    sf.write(buf, samples.astype(np.float32), RATE, format="RAW", subtype="ULAW")
    return buf.getvalue()


def start_message(
    tracks: tuple[str, ...] = ("inbound", "outbound"), **params: str
) -> dict[str, Any]:
    return {
        "event": "start",
        "sequenceNumber": "1",
        "streamSid": "MZ0001",
        "start": {
            "accountSid": "AC0001",
            "streamSid": "MZ0001",
            "callSid": "CA0001",
            "tracks": list(tracks),
            "customParameters": params,
            "mediaFormat": {"encoding": "audio/x-mulaw", "sampleRate": 8000, "channels": 1},
        },
    }


def media_message(track: str, ms: int, payload: bytes, seq: int | None = None) -> dict[str, Any]:
    """One media message; ``seq``: its sequenceNumber (None: left out, so not checked)."""
    message = {
        "event": "media",
        "streamSid": "MZ0001",
        "media": {
            "track": track,
            "chunk": str(ms // 20),
            "timestamp": str(ms),
            "payload": base64.b64encode(payload).decode(),
        },
    }
    if seq is not None:
        message["sequenceNumber"] = str(seq)
    return message


STOP = {"event": "stop", "streamSid": "MZ0001", "stop": {}}


def stop_message(seq: int) -> dict[str, Any]:
    return {**STOP, "sequenceNumber": str(seq)}


def media_messages(stereo: np.ndarray, first_seq: int | None = None) -> Iterator[dict[str, Any]]:
    """Twilio's media messages for float stereo 8 kHz audio (customer col 0, agent col 1),
    numbered from ``first_seq`` on as Twilio numbers them (``start`` is 1); None: unnumbered,
    for tests that drop or reorder messages."""
    tracks = [mulaw_encode(stereo[:, 0]), mulaw_encode(stereo[:, 1])]
    seq = first_seq
    for off in range(0, len(stereo), PACKET):
        for name, data in zip(("inbound", "outbound"), tracks, strict=True):
            yield media_message(name, off // 8, data[off : off + PACKET], seq=seq)
            seq = None if seq is None else seq + 1


def run(decoder: TwilioStreamDecoder, messages: Any) -> list[Any]:
    out: list[Any] = []
    for m in messages:
        out.extend(decoder.feed(m))
    return out


def audio_of(results: list[Any]) -> np.ndarray:
    blocks = [r for r in results if isinstance(r, AudioBlock)]
    pos = 0
    for b in blocks:  # contiguous, in order
        assert b.start == pytest.approx(pos / RATE)
        pos += len(b.samples)
    return np.concatenate([b.samples for b in blocks])


def two_tones(seconds: float) -> np.ndarray:
    t = np.arange(int(seconds * RATE)) / RATE
    return np.stack([0.5 * np.sin(2 * np.pi * 300 * t), 0.3 * np.sin(2 * np.pi * 700 * t)], 1)


def reference(stereo: np.ndarray) -> np.ndarray:
    """What a perfect decoder returns: libsndfile's decoding of libsndfile's encoding."""
    cols = []
    for ch in range(stereo.shape[1]):
        raw = io.BytesIO(mulaw_encode(stereo[:, ch]))
        data, _ = sf.read(
            raw, dtype="float32", format="RAW", subtype="ULAW", samplerate=RATE, channels=1
        )
        cols.append(data)
    return np.stack(cols, 1)


# ---- µ-law ----------------------------------------------------------------------------------


def test_mulaw_table_matches_libsndfile_for_all_256_codes():
    codes = bytes(range(256))
    theirs, _ = sf.read(
        io.BytesIO(codes), dtype="float32", format="RAW", subtype="ULAW", samplerate=RATE,
        channels=1,
    )  # fmt: skip
    np.testing.assert_array_equal(decode_mulaw(codes), theirs)
    assert MULAW_TO_FLOAT.dtype == np.float32 and np.abs(MULAW_TO_FLOAT).max() < 1.0


def test_mulaw_round_trip_keeps_the_signal():
    t = np.arange(RATE) / RATE
    x = (0.6 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)
    y = decode_mulaw(mulaw_encode(x))
    snr = 10 * np.log10(np.sum(x**2) / np.sum((x - y) ** 2))
    assert snr > 30  # G.711 gives ~38 dB on a loud tone


# ---- alignment ------------------------------------------------------------------------------


def test_stereo_stream_decodes_to_the_reference_with_customer_in_column_0():
    stereo = two_tones(1.5)
    dec = TwilioStreamDecoder()
    out = run(dec, [start_message(), *media_messages(stereo), STOP])
    assert isinstance(out[0], StreamStart) and out[0].tracks == ("inbound", "outbound")
    assert isinstance(out[-1], StreamStop) and out[-1].at == pytest.approx(1.5)
    np.testing.assert_array_equal(audio_of(out), reference(stereo))
    blocks = [r for r in out if isinstance(r, AudioBlock)]
    assert all(len(b.samples) == 800 for b in blocks)  # 0.1 s blocks


def test_reordered_packets_within_the_jitter_window_land_in_place():
    stereo = two_tones(2.0)
    msgs = list(media_messages(stereo))
    rng = random.Random(7)
    # shuffle inside windows of 6 messages (60 ms): tracks interleave in any order
    shuffled = []
    for i in range(0, len(msgs), 6):
        w = msgs[i : i + 6]
        rng.shuffle(w)
        shuffled += w
    dec = TwilioStreamDecoder(jitter_ms=200)
    out = run(dec, [start_message(), *shuffled, STOP])
    np.testing.assert_array_equal(audio_of(out), reference(stereo))
    assert dec.late_dropped == 0


def test_gaps_become_silence_and_the_other_track_is_untouched():
    stereo = two_tones(1.0)
    msgs = [
        m
        for m in media_messages(stereo)
        if not (m["media"]["track"] == "inbound" and 200 <= int(m["media"]["timestamp"]) < 400)
    ]
    out = run(TwilioStreamDecoder(), [start_message(), *msgs, STOP])
    got, ref = audio_of(out), reference(stereo)
    assert len(got) == len(ref)
    assert not got[1600:3200, 0].any()  # 200..400 ms of the customer: silence
    np.testing.assert_array_equal(got[:1600], ref[:1600])
    np.testing.assert_array_equal(got[3200:], ref[3200:])
    np.testing.assert_array_equal(got[:, 1], ref[:, 1])


def test_a_stalled_track_does_not_hold_the_call_back():
    """The agent track stops after 0.5 s: customer audio still flows, within the window."""
    stereo = two_tones(3.0)
    msgs = [
        m
        for m in media_messages(stereo)
        if m["media"]["track"] == "inbound" or int(m["media"]["timestamp"]) < 500
    ]
    dec = TwilioStreamDecoder(jitter_ms=200)
    dec.feed(start_message())
    released = 0
    for m in msgs:
        for r in dec.feed(m):
            released += len(r.samples)
        head = int(m["media"]["timestamp"]) * 8 + PACKET
        assert head - released <= 200 * 8 + 800 + PACKET  # jitter + one block + one packet
    assert released >= len(stereo) - 200 * 8 - 800


def test_a_packet_older_than_the_window_is_dropped_and_counted():
    stereo = two_tones(1.0)
    msgs = list(media_messages(stereo))
    late = msgs.pop(0)  # inbound at 0 ms, delivered after everything else
    dec = TwilioStreamDecoder(jitter_ms=100)
    out = run(dec, [start_message(), *msgs, late, STOP])
    assert dec.late_dropped == 1
    got = audio_of(out)
    assert len(got) == len(stereo) and not got[:PACKET, 0].any()


def test_single_track_stream_is_mono_for_its_speaker():
    tone = two_tones(0.5)[:, 0]
    payload = mulaw_encode(tone)
    msgs = [
        media_message("inbound", off // 8, payload[off : off + PACKET])
        for off in range(0, len(tone), PACKET)
    ]
    out = run(TwilioStreamDecoder(), [start_message(("inbound",)), *msgs, STOP])
    start = out[0]
    assert start.channels == 1 and start.meta.mono_speaker == "customer"
    assert audio_of(out).shape == (len(tone), 1)


def test_stop_flushes_the_tail_and_later_media_is_ignored():
    stereo = two_tones(0.33)  # not a whole number of 0.1 s blocks
    dec = TwilioStreamDecoder()
    out = run(dec, [start_message(), *media_messages(stereo), STOP])
    assert len(audio_of(out)) == len(stereo)
    assert dec.feed(media_message("inbound", 400, b"\xff" * PACKET)) == []
    assert dec.feed(STOP) == []


def test_custom_parameters_become_the_call_meta_and_the_token_stays_out_of_repr():
    dec = TwilioStreamDecoder(CallDefaults(agent_id="fallback", queue="q0"))
    start = dec.feed(
        start_message(agent_id="agent-7", language="ro", token="secret-token-123", name="VIP")
    )[0]
    assert start.meta.agent_id == "agent-7" and start.meta.language == "ro"
    assert start.meta.queue == "q0" and start.meta.name == "VIP"
    assert start.token == "secret-token-123" and "secret-token" not in repr(start)
    assert start.call_sid == "CA0001" and start.stream_sid == "MZ0001"


def test_connected_dtmf_mark_are_ignored():
    dec = TwilioStreamDecoder()
    for m in (
        {"event": "connected", "protocol": "Call", "version": "1.0.0"},
        {"event": "dtmf", "dtmf": {"digit": "1"}},
        {"event": "mark", "mark": {"name": "x"}},
    ):
        assert dec.feed(m) == []
    assert dec.ignored == 3


# ---- protocol errors ------------------------------------------------------------------------


def _started() -> TwilioStreamDecoder:
    dec = TwilioStreamDecoder(max_payload_bytes=1600)
    dec.feed(start_message())
    return dec


@pytest.mark.parametrize(
    ("messages", "match"),
    [
        ([media_message("inbound", 0, b"\xff" * PACKET)], "'media' before 'start'"),
        ([{"event": "stop"}], "'stop' before 'start'"),
        (["not a dict"], "JSON object"),
        ([{"nope": 1}], "without an \"event\""),
        ([{**start_message(), "start": {**start_message()["start"], "mediaFormat": {
            "encoding": "audio/x-l16", "sampleRate": 16000, "channels": 1}}}],
         "unsupported media format"),
        ([start_message(language="fr")], "language 'fr' is not supported"),
        ([start_message(("inbound", "sideways"))], "unknown track"),
        ([start_message(), {**start_message(), "sequenceNumber": "2"}], "second 'start'"),
        ([start_message(), start_message()], "sequenceNumber 1 after 1"),
        ([start_message(agent_id="a" * 129)], "customParameters.agent_id is 129 characters"),
        ([start_message(name="n" * 201)], "customParameters.name is 201 characters"),
        ([{**start_message(), "start": {**start_message()["start"], "callSid": "C" * 200}}],
         "start.callSid must be a string of at most 128"),
    ],
)  # fmt: skip
def test_protocol_errors_name_the_problem(messages: list[Any], match: str):
    dec = TwilioStreamDecoder()
    with pytest.raises(TwilioProtocolError, match=match):
        run(dec, messages)


def test_bad_base64_is_an_error():
    bad = media_message("inbound", 0, b"")
    bad["media"]["payload"] = "!!not*base64!!"
    with pytest.raises(TwilioProtocolError, match="not valid base64"):
        _started().feed(bad)


def test_oversize_payload_is_an_error():
    with pytest.raises(TwilioProtocolError, match="over the limit of 1600"):
        _started().feed(media_message("inbound", 0, b"\xff" * 4000))


def test_media_for_an_unannounced_track_is_an_error():
    dec = TwilioStreamDecoder()
    dec.feed(start_message(("inbound",)))
    with pytest.raises(TwilioProtocolError, match="announced"):
        dec.feed(media_message("outbound", 0, b"\xff" * PACKET))


def test_a_timestamp_jump_beyond_the_gap_limit_is_an_error():
    dec = TwilioStreamDecoder(max_gap_s=5.0)
    dec.feed(start_message())
    with pytest.raises(TwilioProtocolError, match="jumped"):
        dec.feed(media_message("inbound", 3_600_000, b"\xff" * PACKET))


# ---- sequence numbers and the message budget -------------------------------------------------


def test_sequence_numbers_must_count_up_by_one():
    dec = TwilioStreamDecoder()
    dec.feed({"event": "connected", "protocol": "Call", "version": "1.0.0"})  # carries none
    dec.feed(start_message())  # "1"
    dec.feed(media_message("inbound", 0, b"\xff" * PACKET, seq=2))
    with pytest.raises(TwilioProtocolError, match="sequenceNumber 4 after 2"):
        dec.feed(media_message("inbound", 20, b"\xff" * PACKET, seq=4))


@pytest.mark.parametrize("seq", ["2", "4", "1"])  # repeated, one lost, reordered
def test_a_repeated_or_skipped_sequence_number_is_refused(seq: str):
    dec = TwilioStreamDecoder()
    run(dec, [start_message(), media_message("inbound", 0, b"\xff" * PACKET, seq=2)])
    bad = {**media_message("inbound", 20, b"\xff" * PACKET), "sequenceNumber": seq}
    with pytest.raises(TwilioProtocolError, match=f"sequenceNumber {seq} after 2"):
        dec.feed(bad)


@pytest.mark.parametrize("seq", ["x", "-1", "1.5", "²", "9" * 5000, True, None])
def test_a_sequence_number_that_is_not_a_number_is_refused(seq: Any):
    message = {**start_message(), "sequenceNumber": seq}
    if seq is None:
        message["sequenceNumber"] = [1]
    with pytest.raises(TwilioProtocolError, match="is not a whole number"):
        TwilioStreamDecoder().feed(message)


def test_a_whole_call_numbered_as_twilio_numbers_it_decodes():
    stereo = two_tones(2.0)
    dec = TwilioStreamDecoder()
    out = run(dec, [start_message(), *media_messages(stereo, 2), stop_message(2 + 200)])
    assert dec.last_seq == 202 and isinstance(out[-1], StreamStop)
    np.testing.assert_allclose(audio_of(out), reference(stereo), atol=1e-6)


def test_thousands_of_tiny_frames_break_the_message_budget():
    """1-byte payloads: 8 per ms of audio instead of Twilio's 1 per 20 ms."""
    dec = TwilioStreamDecoder(max_messages_per_audio_s=200, message_burst=500)
    dec.feed(start_message())
    with pytest.raises(TwilioLimitError, match=r"messages for 0\.\d s of audio; at most 200"):
        for i in range(5000):
            dec.feed(media_message("inbound", i // 8, b"\xff"))
    assert 500 < dec.messages < 1000  # refused early, not after the flood


def test_a_flood_of_unknown_or_mark_messages_is_refused_too():
    dec = TwilioStreamDecoder(message_burst=100)
    dec.feed(start_message())
    with pytest.raises(TwilioLimitError):
        for _ in range(1000):
            dec.feed({"event": "mark", "mark": {"name": "x"}})
    assert dec.ignored == 100 - 1  # the start counted too


def test_real_twilio_pacing_stays_inside_the_budget():
    dec = TwilioStreamDecoder(max_messages_per_audio_s=200, message_burst=10)
    out = run(dec, [start_message(), *media_messages(two_tones(30.0))])
    assert dec.messages == 1 + 2 * 30 * 50 and out


def test_drain_releases_the_jitter_window_of_a_stream_that_ends_without_stop():
    """The agent track stalls; the customer's last jitter_ms are still held back, not lost."""
    tone = two_tones(1.0)
    payload = mulaw_encode(tone[:, 0])
    dec = TwilioStreamDecoder(jitter_ms=300)
    out = run(dec, [start_message()])
    for off in range(0, len(tone), PACKET):
        out += dec.feed(media_message("inbound", off // 8, payload[off : off + PACKET]))
    held = len(tone) - len(audio_of(out))
    assert held >= 300 * 8 - 800  # the window (less one block) waits for the agent track
    out += dec.drain()
    assert len(audio_of(out)) == len(tone) and dec.drain() == []


@pytest.mark.parametrize(("tag", "code"), [("en-US", "en"), ("id-ID", "id"), ("ms_MY", "ms")])
def test_a_language_tag_is_read_through_the_language_registry(tag: str, code: str):
    start = TwilioStreamDecoder().feed(start_message(language=tag))[0]
    assert start.meta.language == code
