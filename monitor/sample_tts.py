"""Offline text-to-speech for the sample calls: hibari-tts, with Debian espeak-ng as the fallback.

Both engines are deterministic for a given seed and need no network: hibari's bundled voice
("heart") ships inside the wheel; other hibari voices would be downloaded, so they are refused.
"""

from __future__ import annotations

import io
import shutil
import subprocess
import sys
from typing import Any, Protocol

import numpy as np
import soundfile as sf

from monitor.sample_script import ScriptError, Voice


class SpeechEngine(Protocol):
    """Text to mono float32 speech; deterministic for a given seed."""

    identity: str  # goes into the render key: a new engine version re-renders

    def synthesize(
        self, text: str, voice: Voice, rate: float, pitch: float, seed: int
    ) -> tuple[np.ndarray, int]: ...


class HibariEngine:
    """hibari-tts (24 kHz); pitch is set by scaling the model's predicted F0 before the vocoder."""

    def __init__(self) -> None:
        import hibari  # the import error is turned into a clear message by engine_for()

        self.identity = f"hibari-{hibari.__version__}"
        self._models: dict[str, Any] = {}

    def _model(self, name: str) -> Any:
        if name not in self._models:
            from hibari import Hibari
            from hibari.voices import VOICES, voice_path

            if name not in VOICES:
                raise ScriptError(f"hibari has no voice {name!r}; it has {', '.join(VOICES)}")
            try:
                voice_path(name, download_missing=False)
            except FileNotFoundError as exc:
                raise ScriptError(
                    f"hibari voice {name!r} is not in the package and is never downloaded here; "
                    "use voice = 'heart' (bundled) or engine = 'espeak'"
                ) from exc
            self._models[name] = Hibari(voice=name, threads=1)
        return self._models[name]

    def synthesize(
        self, text: str, voice: Voice, rate: float, pitch: float, seed: int
    ) -> tuple[np.ndarray, int]:
        from hibari import dsp

        tts = self._model(voice.voice)
        rng = np.random.default_rng(seed)
        parts = []
        for phonemes in tts.phonemize(text):
            ids = np.asarray([tts.ids(phonemes)], np.int64)
            speed = np.asarray([rate], np.float32)
            lh, th, ln, lr, phi, f0 = (
                o[0] for o in tts.sess.run(None, {"ids": ids, "speed": speed})
            )
            parts.append(dsp.synth(lh, th, ln, lr, phi, f0 * np.float32(pitch), rng))
        audio = np.concatenate(parts) if parts else np.zeros(0, np.float32)
        return audio.astype(np.float32), int(tts.sample_rate)


class EspeakEngine:
    """Debian espeak-ng through its command line (22.05 kHz); robotic but always available."""

    BASE_WPM = 165
    BASE_PITCH = 45

    def __init__(self) -> None:
        exe = shutil.which("espeak-ng")
        if exe is None:
            raise RuntimeError("espeak-ng is not installed; apt-get install espeak-ng")
        version = subprocess.run([exe, "--version"], capture_output=True, text=True, check=False)
        self.exe = exe
        self.identity = "espeak-" + " ".join(version.stdout.split()[:3])

    def synthesize(
        self, text: str, voice: Voice, rate: float, pitch: float, seed: int
    ) -> tuple[np.ndarray, int]:
        wpm = round(self.BASE_WPM * rate)
        espeak_pitch = min(99, round(self.BASE_PITCH * pitch))
        cmd = [self.exe, "-v", voice.voice, "-s", str(wpm), "-p", str(espeak_pitch), "--stdout"]
        done = subprocess.run(cmd, input=text.encode(), capture_output=True, check=False)
        if done.returncode != 0 or not done.stdout:
            raise RuntimeError(
                f"espeak-ng failed for voice {voice.voice!r}: {done.stderr.decode()}"
            )
        audio, rate_hz = sf.read(io.BytesIO(done.stdout), dtype="float32")
        return np.asarray(audio, np.float32), int(rate_hz)


_ENGINES: dict[str, SpeechEngine] = {}


def engine_for(voice: Voice) -> tuple[SpeechEngine, Voice]:
    """The engine that speaks ``voice``; without hibari-tts, espeak-ng stands in (and says so)."""
    if voice.engine not in _ENGINES:
        try:
            _ENGINES[voice.engine] = HibariEngine() if voice.engine == "hibari" else EspeakEngine()
        except ImportError:
            if voice.engine != "hibari":
                raise
            print(
                "warning: hibari-tts is not installed (pip install hibari-tts); "
                "rendering with espeak-ng instead",
                file=sys.stderr,
            )
            _ENGINES["hibari"] = EspeakEngine()
    engine = _ENGINES[voice.engine]
    if voice.engine == "hibari" and isinstance(engine, EspeakEngine):
        voice = Voice("espeak", "en-us+f3" if voice.pitch >= 0.85 else "en-us+m3", 1.0, voice.rate)
    return engine, voice
