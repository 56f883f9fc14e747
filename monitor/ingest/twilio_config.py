"""Settings of the Twilio Media Streams ingest: its limits and its authentication.

Read from the ``[ingest.twilio]`` table of the process's TOML file; every key is optional and
checked (type and range) by :func:`monitor.ingest.settings.from_section`, and an unknown key
is an error naming the known ones::

    [ingest.twilio]
    auth_token = "your-twilio-auth-token"   # checks X-Twilio-Signature on every upgrade
    public_url = "wss://callmon.example.com/ingest/twilio"   # the <Stream url> in your TwiML
    account_sid = "AC..."                   # optional: start.accountSid must match
    max_calls = 50
    idle_timeout_s = 10.0

See docs/protocol.md ("Telephony ingest: Twilio Media Streams") for what each limit does.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from monitor.ingest.settings import from_section, ingest_section


class TwilioConfigError(ValueError):
    """A Twilio ingest setting that cannot be used; the message says what to fix."""


@dataclass(frozen=True, slots=True)
class TwilioConfig:
    # ---- limits ---------------------------------------------------------------------------
    max_calls: int = 50  # live calls at once (including ones still flushing); then 1013
    start_timeout_s: float = 10.0  # from the handshake to a valid 'start'; then 1008
    idle_timeout_s: float = 10.0  # after 'start', no message for this long: the call ends
    max_payload_bytes: int = 8000  # µ-law bytes in one media message (1 s); then 1007
    jitter_ms: int = 500  # how far one track may run ahead before the other counts as silent
    max_gap_s: float = 60.0  # a timestamp further ahead than this: broken stream, 1007
    # Twilio sends 50 messages per second of audio per track (100 for both_tracks). A stream
    # may send this many per second of audio it carries, plus message_burst, then 1008: a
    # flood of tiny frames costs the server per message, not per second of audio.
    max_messages_per_audio_s: int = 200
    message_burst: int = 500
    queue_frames: int = 50  # PushSource buffer (0.1 s blocks) before the socket stops being read
    flush_timeout_s: float = 10.0  # at shutdown, for live calls to flush before cancelling
    # ---- authentication -------------------------------------------------------------------
    # The account's Auth Token: every upgrade must carry a valid X-Twilio-Signature (HMAC of
    # public_url + query). Empty: signatures are not checked (the ingest token still is).
    auth_token: str = field(default="", repr=False)
    public_url: str = ""  # the <Stream url="..."> Twilio connects to, without its query
    account_sid: str = ""  # when set, 'start' must come from this account

    def __post_init__(self) -> None:
        for name in ("max_calls", "max_payload_bytes", "queue_frames", "max_messages_per_audio_s"):
            if getattr(self, name) < 1:
                raise TwilioConfigError(f"{name} must be at least 1, got {getattr(self, name)}")
        for name in ("start_timeout_s", "idle_timeout_s", "flush_timeout_s", "max_gap_s"):
            value = getattr(self, name)
            if not math.isfinite(value) or value <= 0:
                raise TwilioConfigError(f"{name} must be a positive number of seconds")
        if self.jitter_ms < 0 or self.message_burst < 0:
            raise TwilioConfigError("jitter_ms and message_burst must be 0 or more")
        if self.auth_token and not self.public_url:
            raise TwilioConfigError(
                "auth_token is set but public_url is not: Twilio signs the URL it connects to"
                ' (the <Stream url="wss://...">), which callmon behind a proxy cannot guess'
            )
        if self.public_url:
            parts = urlsplit(self.public_url)
            if parts.scheme not in ("wss", "ws") or not parts.netloc or parts.query:
                raise TwilioConfigError(
                    f"public_url {self.public_url!r} must be the wss:// URL of your <Stream>,"
                    " without a query string"
                )
        if self.account_sid and not (
            self.account_sid.startswith("AC") and len(self.account_sid) == 34
        ):
            raise TwilioConfigError(f"account_sid {self.account_sid!r} is not a Twilio AC... sid")

    @classmethod
    def from_toml(cls, data: Mapping[str, Any]) -> TwilioConfig:
        """From a whole parsed config file: its ``[ingest.twilio]`` table, if any.

        Raises :class:`~monitor.ingest.settings.IngestConfigError` naming the key.
        """
        return from_section(cls, ingest_section(data, "twilio"), "twilio")
