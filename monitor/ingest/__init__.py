"""Live calls from telephony platforms: wire formats decoded without I/O, plus their
websocket adapters that feed a :class:`~monitor.sources.stream.PushSource` into the pipeline."""

from monitor.ingest.audiohook_ws import AUDIOHOOK_PATH, AudioHookConfig, AudioHookIngest
from monitor.ingest.audiosocket_server import AudioSocketConfig, AudioSocketIngest
from monitor.ingest.pcm_ws import PCM_PATH, PcmConfig, PcmIngest
from monitor.ingest.settings import IngestConfigError
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
    "AUDIOHOOK_PATH",
    "PCM_PATH",
    "TWILIO_PATH",
    "AudioBlock",
    "AudioHookConfig",
    "AudioHookIngest",
    "AudioSocketConfig",
    "AudioSocketIngest",
    "CallDefaults",
    "IngestConfigError",
    "PcmConfig",
    "PcmIngest",
    "StreamStart",
    "StreamStop",
    "TwilioConfig",
    "TwilioConfigError",
    "TwilioIngest",
    "TwilioProtocolError",
    "TwilioStreamDecoder",
    "decode_mulaw",
]
