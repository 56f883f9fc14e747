"""Audio sources: where a call's audio comes from (a recorded file, a live microphone)."""

from monitor.sources.base import AudioSource, SourceError
from monitor.sources.file import FileSource, probe_file
from monitor.sources.resample import StreamResampler
from monitor.sources.stream import PushSource

__all__ = [
    "AudioSource",
    "FileSource",
    "PushSource",
    "SourceError",
    "StreamResampler",
    "probe_file",
]
