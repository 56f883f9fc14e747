"""Twilio Media Streams abuse, refused cleanly: a real server, a real Monitor, real clients.

Signatures (issue #13), an idle stream (issue #11, defect 6), the close code a call records
(defect 7), a wrong sequence number, unknown messages, truncated and oversized frames,
thousands of tiny frames, and a connection dropped mid-call. Each call that started ends with
everything received kept: the CallEnded comes after the pipeline flushed.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import os
import struct
from typing import Any

import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus

from monitor import events as ev
from monitor.ingest import TwilioConfig
from monitor.ingest.settings import IngestConfigError
from monitor.ingest.twilio_config import TwilioConfigError
from tests.test_ingest_server import (
    INGEST,
    Rig,
    RigFactory,
    close_code,
    make_rig,  # noqa: F401 (a fixture)
    play,
    rig,  # noqa: F401 (a fixture)
)
from tests.test_ingest_twilio import media_message, start_message

pytestmark = pytest.mark.slow

AUTH_TOKEN = "twilio-auth-token-for-tests-0123"
PUBLIC_URL = "wss://callmon.example.com/ingest/twilio"


def twilio_signature(url: str, token: str = AUTH_TOKEN) -> str:
    """Twilio's request signature, from its documentation: base64(HMAC-SHA1(token, url)) for a
    request without POST parameters. Written here independently of the validator under test."""
    return base64.b64encode(hmac.new(token.encode(), url.encode(), hashlib.sha1).digest()).decode()


async def started(on: Rig, timeout: float = 10.0) -> ev.CallStarted:
    async with asyncio.timeout(timeout):
        while not on.of_type(ev.CallStarted):
            await asyncio.sleep(0.02)
    return on.of_type(ev.CallStarted)[0]  # type: ignore[no-any-return]


# ---- X-Twilio-Signature -----------------------------------------------------------------------


@pytest.fixture
async def signed(make_rig: RigFactory) -> Rig:  # noqa: F811 (the fixture imported above)
    return await make_rig(auth_token=AUTH_TOKEN, public_url=PUBLIC_URL)


async def test_a_good_signature_is_accepted_and_the_token_still_checked(signed: Rig):
    headers = {"X-Twilio-Signature": twilio_signature(PUBLIC_URL)}
    async with connect(signed.url(), additional_headers=headers) as twilio:
        await play(
            twilio, [start_message(token=INGEST), media_message("inbound", 0, b"\xff" * 160)]
        )
        await started(signed)
        await play(twilio, [{"event": "stop", "stop": {}}])
        assert await close_code(twilio) == 1000
    assert (await signed.ended()).reason == "completed"
    # a signed stream without the ingest token (the second factor) starts nothing
    async with connect(signed.url(), additional_headers=headers) as twilio:
        await play(twilio, [start_message()])
        assert await close_code(twilio) == 1008


async def test_the_signature_covers_the_query_string(signed: Rig):
    url = f"{PUBLIC_URL}?token={INGEST}"
    good = {"X-Twilio-Signature": twilio_signature(url)}
    async with connect(signed.url(INGEST), additional_headers=good) as twilio:
        await play(twilio, [start_message(), {"event": "stop", "stop": {}}])
        assert await close_code(twilio) == 1000
    # the signature of the bare URL does not cover a query string added to it
    bare = {"X-Twilio-Signature": twilio_signature(PUBLIC_URL)}
    with pytest.raises(InvalidStatus) as info:
        async with connect(signed.url(INGEST), additional_headers=bare):
            pass
    assert info.value.response.status_code == 403


@pytest.mark.parametrize(
    ("headers", "words"),
    [
        ({}, b"missing X-Twilio-Signature"),
        ({"X-Twilio-Signature": ""}, b"missing X-Twilio-Signature"),
        ({"X-Twilio-Signature": twilio_signature(PUBLIC_URL, "another-accounts-token")},
         b"X-Twilio-Signature does not match"),
        ({"X-Twilio-Signature": twilio_signature(PUBLIC_URL + "/other")},
         b"X-Twilio-Signature does not match"),
        ({"X-Twilio-Signature": "not base64 at all"}, b"X-Twilio-Signature does not match"),
    ],
    ids=["missing", "empty", "wrong-token", "wrong-url", "garbage"],
)  # fmt: skip
async def test_a_missing_or_bad_signature_is_refused_at_the_upgrade(
    signed: Rig, headers: dict[str, str], words: bytes
):
    with pytest.raises(InvalidStatus) as info:
        async with connect(signed.url(), additional_headers=headers):
            pass
    assert info.value.response.status_code == 403
    assert words in info.value.response.body
    assert not signed.of_type(ev.CallStarted) and signed.ingest.bad_signatures == 1


async def test_an_unauthenticated_connect_to_a_signed_route_never_opens(signed: Rig):
    """No signature and no token: refused before any websocket exists."""
    with pytest.raises(InvalidStatus) as info:
        async with connect(signed.url()):
            pass
    assert info.value.response.status_code == 403


async def test_a_route_given_as_the_bound_handle_checks_the_signature_at_the_upgrade_too(
    make_rig: RigFactory,  # noqa: F811
):
    rig_ = await make_rig(bound_handle=True, auth_token=AUTH_TOKEN, public_url=PUBLIC_URL)
    with pytest.raises(InvalidStatus) as info:
        async with connect(rig_.url(INGEST)):
            pass
    assert info.value.response.status_code == 403


def test_signature_settings_are_validated():
    with pytest.raises(TwilioConfigError, match="public_url is not"):
        TwilioConfig(auth_token=AUTH_TOKEN)
    with pytest.raises(TwilioConfigError, match="without a query string"):
        TwilioConfig(auth_token=AUTH_TOKEN, public_url=PUBLIC_URL + "?a=1")
    with pytest.raises(TwilioConfigError, match="wss:// URL"):
        TwilioConfig(auth_token=AUTH_TOKEN, public_url="https://callmon.example.com/x")
    with pytest.raises(TwilioConfigError, match="not a Twilio AC"):
        TwilioConfig(account_sid="XY123")
    assert AUTH_TOKEN not in repr(TwilioConfig(auth_token=AUTH_TOKEN, public_url=PUBLIC_URL))


async def test_a_stream_from_another_account_is_refused(make_rig: RigFactory):  # noqa: F811
    rig_ = await make_rig(account_sid="AC" + "1" * 32)
    async with connect(rig_.url(INGEST)) as twilio:
        await play(twilio, [start_message()])  # accountSid AC0001
        assert await close_code(twilio) == 1008
        assert "not this server's Twilio account" in (twilio.close_reason or "")
    assert not rig_.of_type(ev.CallStarted)


# ---- the limits, from TOML --------------------------------------------------------------------


def test_limits_come_from_the_ingest_twilio_table():
    data = {
        "ingest": {
            "twilio": {
                "max_calls": 3,
                "idle_timeout_s": 2,  # an integer for a float setting is fine
                "auth_token": AUTH_TOKEN,
                "public_url": PUBLIC_URL,
            }
        }
    }
    cfg = TwilioConfig.from_toml(data)
    assert (cfg.max_calls, cfg.idle_timeout_s, cfg.public_url) == (3, 2.0, PUBLIC_URL)
    assert TwilioConfig.from_toml({}) == TwilioConfig()


@pytest.mark.parametrize(
    ("table", "match"),
    [
        ({"max_cals": 3}, r"unknown key 'max_cals' \(known: .*max_calls"),
        ({"max_calls": "3"}, r"max_calls must be int, got str"),
        ({"max_calls": 0}, r"max_calls must be at least 1"),
        ({"idle_timeout_s": -1.0}, r"idle_timeout_s must be a positive number"),
        ({"jitter_ms": 1.5}, r"jitter_ms must be int, got float"),
        ({"auth_token": AUTH_TOKEN}, r"auth_token is set but public_url is not"),
    ],
)
def test_a_bad_ingest_twilio_setting_names_the_key(table: dict[str, Any], match: str):
    with pytest.raises(IngestConfigError, match=r"\[ingest\.twilio\] " + match):
        TwilioConfig.from_toml({"ingest": {"twilio": table}})


# ---- a stream that stops sending (defect 6) ---------------------------------------------------


async def test_an_idle_stream_ends_the_call_interrupted_and_keeps_what_arrived(
    make_rig: RigFactory,  # noqa: F811
):
    rig_ = await make_rig(idle_timeout_s=1.0)
    async with connect(rig_.url(INGEST)) as twilio:
        await play(twilio, [start_message()])
        await play(
            twilio, [media_message("inbound", ms, b"\x7f" * 160) for ms in range(0, 2000, 20)]
        )
        # ...then nothing: the server ends the call and hangs up
        assert await close_code(twilio, timeout=15.0) == 1008
        assert "idle_timeout_s" in (twilio.close_reason or "")
    ended = await rig_.ended()
    assert ended.reason == "interrupted" and "no message from Twilio for 1 s" in ended.error
    assert ended.at == pytest.approx(2.0, abs=0.1)  # the 2 s that arrived were kept
    assert rig_.ingest.stats()["live_calls"] == 0


# ---- close codes (defect 7) -------------------------------------------------------------------


async def test_a_call_closed_1009_records_1009_not_1006(rig: Rig):  # noqa: F811
    async with connect(rig.url(INGEST)) as twilio:
        await play(twilio, [start_message(), media_message("inbound", 0, b"\x7f" * 160)])
        await started(rig)
        await twilio.send(json.dumps({"event": "mark", "pad": "x" * 20_000}))
        assert await close_code(twilio) == 1009
    ended = await rig.ended()
    assert ended.reason == "error" and "1009 (message too big)" in ended.error, ended.error
    assert "1006" not in ended.error and "exceeds limit" in ended.error


# ---- malformed streams ------------------------------------------------------------------------


async def test_a_wrong_sequence_number_closes_1007_and_ends_the_call_as_error(rig: Rig):  # noqa: F811
    async with connect(rig.url(INGEST)) as twilio:
        first = media_message("inbound", 0, b"\x7f" * 160, seq=2)
        skipped = media_message("inbound", 20, b"\x7f" * 160, seq=5)
        await play(twilio, [start_message(), first, skipped])
        assert await close_code(twilio) == 1007
        assert "sequenceNumber 5 after 2" in (twilio.close_reason or "")
    ended = await rig.ended()
    assert ended.reason == "error" and "sequenceNumber 5 after 2" in ended.error


async def test_unknown_messages_are_ignored_and_the_call_goes_on(rig: Rig):  # noqa: F811
    async with connect(rig.url(INGEST)) as twilio:
        extra = [{"event": "a-future-event", "x": 1}, {"event": "dtmf", "dtmf": {"digit": "1"}}]
        await play(twilio, [start_message(), *extra, media_message("inbound", 0, b"\x7f" * 160)])
        await play(twilio, [{"event": "stop", "stop": {}}])
        assert await close_code(twilio) == 1000
    assert (await rig.ended()).reason == "completed"
    assert rig.ingest.stats()["refused"] == 0


async def test_a_truncated_json_message_closes_1007(rig: Rig):  # noqa: F811
    async with connect(rig.url(INGEST)) as twilio:
        await play(twilio, [start_message()])
        text = json.dumps(media_message("inbound", 0, b"\x7f" * 160))
        await twilio.send(text[: len(text) // 2])
        assert await close_code(twilio) == 1007
        assert "not usable JSON" in (twilio.close_reason or "")
    assert (await rig.ended()).reason == "error"


async def test_json_nested_past_the_limit_closes_1007_without_a_recursion_error(rig: Rig):  # noqa: F811
    async with connect(rig.url(INGEST)) as twilio:
        await twilio.send("[" * 8000 + "]" * 8000)
        assert await close_code(twilio) == 1007
        assert "nested deeper than" in (twilio.close_reason or "")


async def test_a_frame_cut_off_mid_call_ends_the_call_interrupted(rig: Rig):  # noqa: F811
    """The TCP connection dies in the middle of a websocket frame (a dropped call)."""
    async with connect(rig.url(INGEST)) as twilio:
        await play(twilio, [start_message()])
        await play(
            twilio, [media_message("inbound", ms, b"\x7f" * 160) for ms in range(0, 1000, 20)]
        )
        await started(rig)
        mask = os.urandom(4)
        # a masked text frame announcing 1000 bytes, of which only 10 are ever sent
        header = bytes([0x81, 0x80 | 126]) + struct.pack("!H", 1000) + mask
        twilio.transport.write(header + bytes(b ^ mask[i % 4] for i, b in enumerate(b"{" * 10)))
        twilio.transport.abort()
    ended = await rig.ended()
    assert ended.reason == "interrupted" and "1006" in ended.error
    assert ended.at == pytest.approx(1.0, abs=0.1)  # the second that arrived was kept


async def test_thousands_of_tiny_frames_close_1008(rig: Rig):  # noqa: F811
    async with connect(rig.url(INGEST)) as twilio:
        await play(twilio, [start_message()])
        tiny = [media_message("inbound", i // 8, b"\x7f") for i in range(3000)]
        with pytest.raises(Exception):  # noqa: B017 (the server hangs up mid-flood)
            await play(twilio, tiny)
            await twilio.recv()
        assert twilio.close_code == 1008
        assert "messages for" in (twilio.close_reason or "")
    ended = await rig.ended()
    assert ended.reason == "error" and "per second of audio" in ended.error
