"""Streaming speech recognition: engines behind one Recognizer protocol.

    engine = load_engine("auto")            # one model per process, shared
    rec = engine.new_recognizer()           # one per channel per call
    hyps = rec.accept(samples, start)       # float32 mono at engine.sample_rate
    hyps += rec.finish()

:class:`monitor.asr.transcriber.CallTranscriber` drives both parties of a call.
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path

from monitor.asr.base import (
    AsrError,
    DamagedModelError,
    Engine,
    EngineUnavailableError,
    FetchError,
    Hypothesis,
    ModelNotFoundError,
    Recognizer,
)
from monitor.priority import ASR_NICENESS

ENGINES = ("auto", "vosk", "whisper")
log = logging.getLogger(__name__)

_loaded: dict[tuple[str, str, int], Engine] = {}
_load_lock = threading.Lock()


def load_engine(
    name: str = "auto", model_path: str | Path | None = None, niceness: int = ASR_NICENESS
) -> Engine:
    """The engine ``name`` with its model loaded once per process (later calls share it).

    ``niceness`` lowers the priority of the engine's decoding threads (Linux; 0 keeps
    normal priority) so the scorer and the event loop do not queue behind them: see
    monitor/priority.py.
    """
    # Imported here so `python -m monitor.asr.models` does not import itself twice.
    from monitor.asr.models import (
        FETCH_HINT,
        auto_engine_name,
        resolve_vosk_model,
        vosk_model_problems,
    )

    if name not in ENGINES:
        raise ValueError(f"unknown ASR engine {name!r}; choose one of {', '.join(ENGINES)}")
    if name == "auto":
        # ``model_path`` is the configured Vosk model: use it when it is there, otherwise
        # auto means auto (the embedded Whisper offline) — with a word in the log.
        if model_path is not None and not vosk_model_problems(Path(model_path).expanduser()):
            name = "vosk"
        else:
            if model_path is not None:
                log.warning(
                    "no Vosk model at %s (%s); choosing automatically", model_path, FETCH_HINT
                )
                model_path = None
            name = auto_engine_name()
    if name == "whisper" and model_path is not None and _is_vosk_folder(Path(model_path)):
        model_path = None  # a configured Vosk model path says nothing about Whisper
    with _load_lock:
        if name == "vosk":
            path = resolve_vosk_model(model_path)
            if path is None:
                raise ModelNotFoundError(
                    "no Vosk model found (looked at VOSK_MODEL_PATH, models/vosk-*, "
                    f"~/.cache/vosk/vosk-*); {FETCH_HINT}"
                )
            key = ("vosk", str(path.resolve()), niceness)
            if key not in _loaded:
                from monitor.asr.vosk_engine import VoskEngine

                _loaded[key] = VoskEngine(path, niceness=niceness)
            return _loaded[key]
        key = ("whisper", str(model_path or ""), niceness)
        if key not in _loaded:
            from monitor.asr.whisper_engine import WhisperEngine

            _loaded[key] = WhisperEngine(model_path, niceness=niceness)
        return _loaded[key]


def _is_vosk_folder(path: Path) -> bool:
    path = path.expanduser()
    return path.name.startswith("vosk") or (path / "conf" / "model.conf").exists()


__all__ = [
    "ENGINES",
    "AsrError",
    "DamagedModelError",
    "Engine",
    "EngineUnavailableError",
    "FetchError",
    "Hypothesis",
    "ModelNotFoundError",
    "Recognizer",
    "load_engine",
]
