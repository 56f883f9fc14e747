"""Live calls from telephony platforms: wire formats decoded without I/O, plus their
websocket adapters that feed a :class:`~monitor.sources.stream.PushSource` into the pipeline."""

from monitor.ingest.twilio import (
    AudioBlock,
    CallDefaults,
    StreamStart,
    StreamStop,
    TwilioProtocolError,
    TwilioStreamDecoder,
    decode_mulaw,
)
from monitor.ingest.twilio_config import TwilioConfig, TwilioConfigError
from monitor.ingest.twilio_ws import TWILIO_PATH, TwilioIngest

__all__ = [
    "TWILIO_PATH",
    "AudioBlock",
    "CallDefaults",
    "StreamStart",
    "StreamStop",
    "TwilioConfig",
    "TwilioConfigError",
    "TwilioIngest",
    "TwilioProtocolError",
    "TwilioStreamDecoder",
    "decode_mulaw",
]
