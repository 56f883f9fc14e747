"""Genesys AudioHook, synchronously: RFC 9421 signatures, the session's checks and audio.

The signature test vector is RFC 9421 appendix B.2.5 (hmac-sha256, the RFC's published shared
secret); the AudioHook messages are written from the protocol's documentation (version 2):
client messages carry seq, serverseq and position, server messages seq and clientseq.
"""

from __future__ import annotations

import base64
import io
import itertools
from typing import Any

import numpy as np
import pytest
import soundfile as sf

from monitor.ingest.audiohook import (
    NULL_UUID,
    Audio,
    AudioHookDefaults,
    AudioHookError,
    AudioHookSession,
    Gap,
    Reply,
    SessionClosed,
    SessionOpened,
    format_duration,
    mask_ani,
    parse_duration,
)
from monitor.ingest.audiohook_ws import AudioHookConfig
from monitor.ingest.settings import IngestConfigError, from_section
from monitor.ingest.signatures import NonceCache, SignatureError, SignedRequest, verify_hmac_sha256

RATE = 8000
SESSION = "e160e428-53e2-487c-977d-96989bf5c99d"
ORG = "d7934305-0972-4844-938e-9060eef73d05"
CONV = "090eaa2f-72fa-480a-83e0-8667ff89c0ec"

# ---- RFC 9421 appendix B.2.5 ----------------------------------------------------------------

RFC_SECRET = base64.b64decode(
    "uzvJfB4u3N0Jy4T7NZ75MDVcr8zSTInedJtkgcu46YW4XByzNJjxBdtjUkdJPBtbmHhIDi6pcl8jsasjlTMtDQ=="
)
DIGEST = (
    "sha-512=:WZDPaVn/7XgHaAy8pmojAkGWoRx2UFChF41A2svX+TaPm+AbwAgBWnrIiYl"
    "lu7BNNyealdVLvRwEmTHWXvJwew==:"
)
SIG_INPUT = (
    'sig-b25=("date" "@authority" "content-type");created=1618884473;keyid="test-shared-secret"'
)
RFC_HEADERS = [
    ("Host", "example.com"),
    ("Date", "Tue, 20 Apr 2021 02:07:55 GMT"),
    ("Content-Type", "application/json"),
    ("Content-Digest", DIGEST),
    ("Content-Length", "18"),
    ("Signature-Input", SIG_INPUT),
    ("Signature", "sig-b25=:pxcQw6G3AjtMBQjwo8XzkZf/bws5LelbaMk5rGIGtE8=:"),
]
RFC_URL = "https://example.com/foo?param=Value&Pet=dog"


def rfc_request(headers: list[tuple[str, str]] = RFC_HEADERS) -> SignedRequest:
    return SignedRequest("POST", RFC_URL, headers)


def test_rfc9421_b25_hmac_example_verifies():
    sig = verify_hmac_sha256(
        rfc_request(), key_id="test-shared-secret", secret=RFC_SECRET, max_age_s=None
    )
    assert sig.keyid == "test-shared-secret" and sig.created == 1618884473
    assert sig.covered[:3] == ('"date"', '"@authority"', '"content-type"')


@pytest.mark.parametrize(
    ("change", "url"),
    [
        (("Date", "Tue, 20 Apr 2021 02:07:56 GMT"), RFC_URL),  # a covered header changed
        (None, RFC_URL.replace("example.com", "example.org")),  # @authority changed
    ],
)
def test_rfc9421_example_fails_when_a_covered_component_changes(change: Any, url: str):
    headers = [change if change and n == change[0] else (n, v) for n, v in RFC_HEADERS]
    with pytest.raises(SignatureError):
        verify_hmac_sha256(
            SignedRequest("POST", url, headers),
            key_id="test-shared-secret",
            secret=RFC_SECRET,
            max_age_s=None,
        )


def test_rfc9421_example_fails_with_another_secret_key_or_age_or_coverage():
    def verify(**kw: Any) -> Any:
        args: dict[str, Any] = {"key_id": "test-shared-secret", "secret": RFC_SECRET,
                                "max_age_s": None} | kw  # fmt: skip
        return verify_hmac_sha256(rfc_request(), **args)

    with pytest.raises(SignatureError):
        verify(secret=b"another secret")
    with pytest.raises(SignatureError):
        verify(key_id="someone-else")
    with pytest.raises(SignatureError, match="age"):
        verify(max_age_s=10.0)  # created in 2021
    with pytest.raises(SignatureError, match="not covered"):
        verify(required=("@request-target",))


def test_unsigned_and_garbled_requests_are_signature_errors():
    plain = [(n, v) for n, v in RFC_HEADERS if not n.startswith("Signature")]
    for headers in (plain, [*plain, ("Signature-Input", "%%%"), ("Signature", "sig=:x:")]):
        with pytest.raises(SignatureError):
            verify_hmac_sha256(rfc_request(headers), key_id="test-shared-secret", secret=RFC_SECRET)


def test_nonce_cache_refuses_a_replay_until_it_expires_and_stays_bounded():
    cache = NonceCache(ttl_s=10.0, max_entries=3)
    assert cache.add("a" * 22, now=0.0)
    assert not cache.add("a" * 22, now=5.0)  # replay inside the window
    assert cache.add("a" * 22, now=11.0)  # its signature would be too old by now anyway
    for i in range(10):
        cache.add(f"n{i}", now=12.0)
    assert len(cache) <= 3


# ---- helpers: a client written from the protocol --------------------------------------------


class Client:
    """Builds client messages the way AudioHook does: seq +1, serverseq, position."""

    def __init__(self) -> None:
        self.seq = itertools.count(1)
        self.serverseq = 0
        self.samples = 0  # stream position in samples (audio sent + paused/discarded)

    def msg(self, type_: str, **params: Any) -> dict[str, Any]:
        return {
            "version": "2",
            "id": SESSION,
            "type": type_,
            "seq": next(self.seq),
            "serverseq": self.serverseq,
            "position": format_duration(self.samples / RATE),
            "parameters": params,
        }

    def open(self, media: list[dict[str, Any]] | None = None, **extra: Any) -> dict[str, Any]:
        params = {
            "organizationId": ORG,
            "conversationId": CONV,
            "participant": {"id": "p-1", "ani": "tel:+13175550123", "aniName": "", "dnis": ""},
            "media": media or [stereo_offer("PCMU")],
            "language": "en-US",
        } | extra
        return self.msg("open", **params)

    def seen(self, results: list[Any]) -> list[Any]:
        for r in results:
            if isinstance(r, Reply):
                self.serverseq = r.message["seq"]
        return results


def stereo_offer(fmt: str, channels: tuple[str, ...] = ("external", "internal")) -> dict[str, Any]:
    return {"type": "audio", "format": fmt, "channels": list(channels), "rate": RATE}


def opened_session(fmt: str = "L16", **kw: Any) -> tuple[AudioHookSession, Client]:
    s, c = AudioHookSession(**kw), Client()
    out = c.seen(s.receive_text(c.open([stereo_offer(fmt)])))
    assert isinstance(out[0], SessionOpened)
    c.seen([s.accept()])
    return s, c


def l16(stereo: np.ndarray) -> bytes:
    return (np.clip(stereo, -1, 1) * 32767).astype("<i2").tobytes()


def tones(seconds: float) -> np.ndarray:
    t = np.arange(int(seconds * RATE)) / RATE
    return np.stack([0.5 * np.sin(2 * np.pi * 300 * t), 0.3 * np.sin(2 * np.pi * 700 * t)], 1)


def audio_of(results: list[Any]) -> np.ndarray:
    return np.concatenate([r.samples for r in results if isinstance(r, Audio)])


# ---- open / opened ----------------------------------------------------------------------------


def test_open_is_answered_with_opened_and_the_call_meta():
    s, c = AudioHookSession(AudioHookDefaults(agent_id="agent-9")), Client()
    offers = [
        {"type": "audio", "format": "opus", "channels": ["external", "internal"], "rate": 48000},
        stereo_offer("PCMU", ("external",)),
        stereo_offer("PCMU"),
    ]
    (opened,) = c.seen(s.receive_text(c.open(offers, customConfig={"queue": "billing"})))
    assert isinstance(opened, SessionOpened) and not opened.probe
    assert opened.channels == ("external", "internal") and opened.media_format == "PCMU"
    assert opened.conversation_id == CONV and opened.participant_id == "p-1"
    assert opened.meta.agent_id == "agent-9" and opened.meta.queue == "billing"
    assert opened.meta.language == "en"
    assert "5550123" not in opened.meta.name and opened.ani_masked.endswith("23")
    reply = s.accept().message
    assert reply["type"] == "opened" and reply["seq"] == 1 and reply["clientseq"] == 1
    assert reply["parameters"]["media"] == [stereo_offer("PCMU")]  # stereo preferred
    assert reply["id"] == SESSION


def test_no_usable_media_offer_is_an_error():
    s, c = AudioHookSession(), Client()
    with pytest.raises(AudioHookError, match="no media offer"):
        s.receive_text(c.open([{"type": "audio", "format": "opus", "channels": ["external"],
                                "rate": 16000}]))  # fmt: skip


def test_an_organization_other_than_the_signed_one_is_unauthorized():
    s, c = AudioHookSession(organization_id="11111111-2222-3333-4444-555555555555"), Client()
    out = s.receive_text(c.open())
    assert [r.message["type"] for r in out if isinstance(r, Reply)] == ["disconnect"]
    assert out[-1].message["parameters"]["reason"] == "unauthorized"
    assert s.opened is None and s.state == "disconnecting"
    assert s.receive_text(c.msg("ping")) == []  # only close counts now
    assert [type(r) for r in s.receive_text(c.msg("close", reason="end"))] == [
        SessionClosed,
        Reply,
    ]


def test_the_null_conversation_is_a_probe_and_releases_no_audio():
    s, c = AudioHookSession(), Client()
    (opened,) = s.receive_text(c.open(conversationId=NULL_UUID))
    assert opened.probe
    c.seen([s.accept()])
    assert s.receive_binary(b"\xff" * 1600) == []


def test_ani_masking_keeps_only_the_last_two_digits():
    assert mask_ani("tel:+13175550123") == "tel:+*********23"
    assert mask_ani("") == ""


def test_durations_parse_and_format():
    assert parse_duration("PT1.25S", "x") == 1.25 and parse_duration("PT0S", "x") == 0.0
    assert format_duration(2.0) == "PT2S" and format_duration(0.125) == "PT0.125S"
    with pytest.raises(AudioHookError, match="ISO 8601"):
        parse_duration("1.5", "position")


# ---- audio --------------------------------------------------------------------------------------


def test_l16_frames_decode_exactly_in_customer_first_blocks():
    s, c = opened_session("L16")
    audio = tones(0.75)
    raw = l16(audio)
    out: list[Any] = []
    for i in range(0, len(raw), 640):  # 160 stereo samples = 20 ms
        out += s.receive_binary(raw[i : i + 640])
    c.samples = len(audio)
    out += s.receive_text(c.msg("close", reason="end"))
    expected = np.frombuffer(raw, "<i2").reshape(-1, 2).astype(np.float32) / 32768
    np.testing.assert_array_equal(audio_of(out), expected)
    sizes = [len(r.samples) for r in out if isinstance(r, Audio)]
    assert sizes == [800] * 7 + [400]  # 0.1 s blocks, the tail at close
    assert isinstance(out[-2], SessionClosed) and out[-1].message["type"] == "closed"


def test_pcmu_frames_match_libsndfile_and_internal_first_offers_are_swapped():
    s, c = AudioHookSession(), Client()
    c.seen(s.receive_text(c.open([stereo_offer("PCMU", ("internal", "external"))])))
    c.seen([s.accept()])
    codes = bytes(range(256)) * 10  # interleaved: internal, external, internal, ...
    out = s.receive_binary(codes)
    c.samples = len(codes) // 2
    out += s.receive_text(c.msg("close", reason="end"))
    ref, _ = sf.read(io.BytesIO(codes), dtype="float32", format="RAW", subtype="ULAW",
                     samplerate=RATE, channels=1)  # fmt: skip
    got = audio_of(out)
    np.testing.assert_array_equal(got[:, 0], ref[1::2])  # external = customer, column 0
    np.testing.assert_array_equal(got[:, 1], ref[0::2])


def test_small_frames_become_whole_blocks():
    s, _ = opened_session("L16")
    raw = l16(tones(0.5))
    out: list[Any] = []
    for i in range(0, len(raw), 320):  # 10 ms frames: the most allowed per audio second
        out += s.receive_binary(raw[i : i + 320])
    assert [len(r.samples) for r in out if isinstance(r, Audio)] == [800] * 5


def test_thousands_of_tiny_frames_are_refused_once_over_the_budget():
    s, _ = opened_session("L16", max_frames_per_audio_s=100)
    s.receive_binary(l16(tones(0.5)))
    with pytest.raises(AudioHookError, match="max_frames_per_audio_s"):
        for _ in range(4000):  # one stereo sample per frame
            s.receive_binary(b"\x00\x01\x00\x01")
    assert s.frames < 200


@pytest.mark.parametrize(
    ("frame", "match"),
    [(b"\x00" * 641, "whole number"), (b"\x00" * 642, "whole number"),
     (b"\x00" * 20_000, "over the limit")],
)  # fmt: skip
def test_truncated_and_oversized_frames_are_errors(frame: bytes, match: str):
    s, _ = opened_session("L16", max_frame_bytes=16_000)
    with pytest.raises(AudioHookError, match=match):
        s.receive_binary(frame)


def test_audio_before_open_is_an_error():
    with pytest.raises(AudioHookError, match="before the session was opened"):
        AudioHookSession().receive_binary(b"\xff" * 160)


# ---- sequence, position, message types --------------------------------------------------------


def test_ping_gets_pong_with_seq_and_clientseq():
    s, c = opened_session()
    (pong,) = s.receive_text(c.msg("ping", rtt="PT0.05S"))
    assert pong.message["type"] == "pong"
    assert pong.message["seq"] == 2 and pong.message["clientseq"] == 2


def test_update_is_answered_updated_and_noted():
    s, c = opened_session()
    (reply,) = s.receive_text(c.msg("update", language="ro-RO"))
    assert reply.message["type"] == "updated" and s.language_updates == ["ro-RO"]


@pytest.mark.parametrize(
    ("mutate", "match"),
    [
        (lambda m: m.update(seq=m["seq"] + 1), "expected 2"),
        (lambda m: m.update(seq=1), "expected 2"),
        (lambda m: m.update(serverseq=5), "serverseq 5"),
        (lambda m: m.update(id="4f7a3c9e-0000-4000-8000-000000000000"), "is for session"),
        (lambda m: m.update(position="PT9S"), "position 9.000"),
        (lambda m: m.update(type="transmogrify"), "not a supported client message"),
        (lambda m: m.update(version="1"), "version"),
        (lambda m: m.pop("parameters"), "parameters"),
        (lambda m: m.update(seq="2"), "integer 'seq'"),
    ],
)
def test_broken_messages_are_errors_that_name_the_problem(mutate: Any, match: str):
    s, c = opened_session()
    m = c.msg("ping")
    mutate(m)
    with pytest.raises(AudioHookError, match=match):
        s.receive_text(m)


def test_client_error_message_is_recorded_and_not_answered():
    s, c = opened_session()
    assert s.receive_text(c.msg("error", code=408, message="open timeout")) == []
    assert s.client_errors == ["408: open timeout"]


# ---- secure pause and discarded ---------------------------------------------------------------


def test_paused_audio_is_dropped_and_the_resume_is_a_gap():
    s, c = opened_session("L16")
    before, during, after = tones(0.3), tones(0.4) * 0 + 0.9, tones(0.5)
    out = list(s.receive_binary(l16(before)))
    c.samples += len(before)
    out += s.receive_text(c.msg("paused"))
    out += s.receive_binary(l16(during))  # a client that keeps sending while paused
    paused_len = 2 * RATE  # two seconds of secure pause
    start = c.samples
    c.samples += paused_len
    out += s.receive_text(
        c.msg("resumed", start=format_duration(start / RATE),
              discarded=format_duration(paused_len / RATE))
    )  # fmt: skip
    out += s.receive_binary(l16(after))
    c.samples += len(after)
    out += s.receive_text(c.msg("close", reason="end"))
    gaps = [r for r in out if isinstance(r, Gap)]
    assert gaps == [Gap(0.3, 2.0, "paused")]
    got = audio_of(out)
    assert len(got) == len(before) + len(after)  # nothing of `during`
    assert not np.any(np.isclose(got, l16_value(0.9)))
    assert s.paused_dropped == len(during)
    blocks = [r for r in out if isinstance(r, Audio)]
    assert blocks[-1].start + len(blocks[-1].samples) / RATE == pytest.approx(2.8)


def l16_value(x: float) -> float:
    return float(np.int16(x * 32767)) / 32768


def test_discarded_audio_is_a_gap_and_moves_the_position():
    s, c = opened_session("L16")
    out = list(s.receive_binary(l16(tones(0.2))))
    c.samples += int(0.2 * RATE)
    start = c.samples
    c.samples += RATE
    out += s.receive_text(c.msg("discarded", start=format_duration(start / RATE), discarded="PT1S"))
    assert [g for g in out if isinstance(g, Gap)] == [Gap(0.2, 1.0, "discarded")]
    s.receive_text(c.msg("ping"))  # the position now includes the discarded second


def test_a_gap_that_does_not_start_at_the_stream_position_is_an_error():
    s, c = opened_session("L16")
    with pytest.raises(AudioHookError, match="starts at"):
        s.receive_text(c.msg("discarded", start="PT5S", discarded="PT1S"))


def test_a_huge_gap_is_capped_at_max_gap_s():
    s, c = opened_session("L16", max_gap_s=3.0)
    c.samples += 3600 * RATE
    (gap,) = s.receive_text(c.msg("discarded", start="PT0S", discarded="PT3600S"))
    assert gap.seconds == 3.0


# ---- settings ---------------------------------------------------------------------------------


def test_audiohook_settings_load_and_refuse_unknown_keys_and_bad_secrets():
    cfg = from_section(
        AudioHookConfig,
        {"api_key": "k" * 20, "client_secret": base64.b64encode(b"s" * 32).decode(),
         "max_calls": 3, "idle_timeout_s": 5},
        "audiohook",
    )  # fmt: skip
    assert cfg.enabled and cfg.max_calls == 3 and cfg.idle_timeout_s == 5.0
    assert "k" * 20 not in repr(cfg)
    with pytest.raises(IngestConfigError, match="unknown key 'max_call'"):
        from_section(AudioHookConfig, {"max_call": 3}, "audiohook")
    with pytest.raises(IngestConfigError, match="base64"):
        from_section(AudioHookConfig, {"client_secret": "not base64!"}, "audiohook")
    with pytest.raises(IngestConfigError, match="max_calls must be positive"):
        from_section(AudioHookConfig, {"max_calls": 0}, "audiohook")
    with pytest.raises(IngestConfigError, match="must be int"):
        from_section(AudioHookConfig, {"max_calls": "3"}, "audiohook")
    assert not AudioHookConfig().enabled
