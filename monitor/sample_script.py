"""Sample call scripts (``samples/scripts/<name>.toml``): the typed, validated form.

A script is a two-party call written turn by turn: who speaks, what they say (numbers as words),
the speaker's mood, and optional pauses, holds, talk-over and the blow-up flag. Loading checks every
field and names the file and field of anything wrong. Rendering is in :mod:`monitor.samples`.
"""

from __future__ import annotations

import hashlib
import os
import tomllib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, cast, get_args

from monitor.events import INTENTS, SPEAKERS, Speaker
from monitor.languages import LANGUAGE_CODES

ROOT = Path(__file__).resolve().parent.parent
SCRIPTS_DIR = ROOT / "samples" / "scripts"
SCRIPTS_ENV = "CALLMON_SAMPLE_SCRIPTS"

Mood = Literal["calm", "annoyed", "angry", "furious", "happy"]
MOODS: tuple[str, ...] = get_args(Mood)
EXPECTED: tuple[str, ...] = ("calm", "watch", "escalates", "deescalates", "abusive")
ENGINES: tuple[str, ...] = ("hibari", "espeak")


class ScriptError(ValueError):
    """A sample script that cannot be used; the message names the file and the field."""


@dataclass(frozen=True, slots=True)
class Voice:
    engine: str  # "hibari" | "espeak"
    voice: str  # hibari voice name ("heart") or espeak-ng voice ("en-us+m3")
    pitch: float = 1.0  # factor on the engine's natural pitch
    rate: float = 1.0  # factor on the engine's natural speaking rate


@dataclass(frozen=True, slots=True)
class ScriptTurn:
    speaker: Speaker
    text: str
    mood: Mood
    pause_before: float | None = None  # seconds after the previous turn ends (default by mood)
    hold: float = 0.0  # seconds of silence on both channels before this turn
    overlap: float = 0.0  # seconds this turn starts before the other party has finished
    blowup: bool = False  # the explicit blow-up (manager demand, abuse, threat)
    direction: str = ""  # stage direction, for people reading the script


@dataclass(frozen=True, slots=True)
class CallScript:
    name: str
    title: str
    description: str
    agent_id: str
    language: str
    queue: str
    expected: str
    expected_intents: tuple[str, ...]
    customer_voice: Voice
    agent_voice: Voice
    turns: tuple[ScriptTurn, ...]
    path: Path
    digest: str  # sha256 of the script file's bytes

    def voice_for(self, speaker: Speaker) -> Voice:
        return self.customer_voice if speaker == "customer" else self.agent_voice


def list_scripts(directory: Path | None = None) -> list[Path]:
    """The bundled scripts, sorted by name; ``directory`` or $CALLMON_SAMPLE_SCRIPTS overrides."""
    where = directory or Path(os.environ.get(SCRIPTS_ENV) or SCRIPTS_DIR)
    if not where.is_dir():
        raise FileNotFoundError(
            f"sample scripts folder {where} does not exist; run from a source checkout "
            f"(pip install -e .) or point ${SCRIPTS_ENV} at a folder of <name>.toml scripts"
        )
    return sorted(where.glob("*.toml"))


def load_script(path: Path) -> CallScript:
    """Parse and validate one script; a problem raises ScriptError naming the file and field."""
    path = Path(path)
    try:
        raw = path.read_bytes()
        data = tomllib.loads(raw.decode("utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ScriptError(f"{path}: cannot read the script as UTF-8 TOML: {exc}") from exc
    fields = _Fields(path, data, "")
    name = fields.text("name")
    if not name.replace("_", "").replace("-", "").isalnum():
        raise ScriptError(f"{path}: name {name!r}: use letters, digits, '_' and '-' (a file name)")
    language = fields.choice("language", LANGUAGE_CODES)
    expected = fields.choice("expected", EXPECTED)
    intents = tuple(fields.get("expected_intents", list, []))
    for intent in intents:
        if intent not in INTENTS:
            raise ScriptError(
                f"{path}: expected_intents: {intent!r} is not one of {', '.join(INTENTS)}"
            )
    voices = fields.get("voices", dict)
    raw_turns = fields.get("turns", list)
    if not raw_turns:
        raise ScriptError(f"{path}: turns: a script needs at least one [[turns]] entry")
    turns = tuple(_turn(path, i, t) for i, t in enumerate(raw_turns))
    customer, agent = _voice(path, voices, "customer"), _voice(path, voices, "agent")
    if language != "en" and "hibari" in (customer.engine, agent.engine):
        raise ScriptError(
            f"{path}: language {language!r}: hibari speaks only English; use engine = 'espeak' "
            "with a voice of that language (e.g. voice = 'id' or 'ro')"
        )
    if turns[0].overlap or turns[0].hold:
        raise ScriptError(f"{path}: turns[0]: the first turn cannot overlap or follow a hold")
    return CallScript(
        name=name,
        title=fields.text("title"),
        description=fields.text("description").strip(),
        agent_id=fields.text("agent_id"),
        language=language,
        queue=fields.text("queue"),
        expected=expected,
        expected_intents=intents,
        customer_voice=customer,
        agent_voice=agent,
        turns=turns,
        path=path,
        digest=hashlib.sha256(raw).hexdigest(),
    )


class _Fields:
    """Typed access to one TOML table, with errors that say where."""

    def __init__(self, path: Path, table: Any, where: str) -> None:
        if not isinstance(table, dict):
            raise ScriptError(f"{path}: {where or 'top level'} must be a table")
        self.path, self.table, self.where = path, table, where

    def get(self, key: str, kind: type | tuple[type, ...], default: Any = ...) -> Any:
        if key not in self.table:
            if default is ...:
                raise ScriptError(f"{self.path}: {self.where}{key}: required field is missing")
            return default
        value = self.table[key]
        if (isinstance(value, bool) and kind is not bool) or not isinstance(value, kind):
            names = kind.__name__ if isinstance(kind, type) else "/".join(k.__name__ for k in kind)
            raise ScriptError(f"{self.path}: {self.where}{key}: expected {names}, got {value!r}")
        return value

    def text(self, key: str) -> str:
        value = cast(str, self.get(key, str))
        if not value.strip():
            raise ScriptError(f"{self.path}: {self.where}{key}: must not be empty")
        return value

    def choice(self, key: str, allowed: Sequence[str]) -> str:
        value = self.text(key)
        if value not in allowed:
            raise ScriptError(
                f"{self.path}: {self.where}{key}: {value!r} is not one of {', '.join(allowed)}"
            )
        return value

    def seconds(self, key: str, default: float | None, high: float) -> float | None:
        value = self.get(key, (int, float), default)
        if value is not None and not 0.0 <= float(value) <= high:
            raise ScriptError(
                f"{self.path}: {self.where}{key}: {value!r} must be between 0 and {high} seconds"
            )
        return None if value is None else float(value)


def _turn(path: Path, index: int, table: Any) -> ScriptTurn:
    f = _Fields(path, table, f"turns[{index}].")
    text = " ".join(f.text("text").split())
    if any(ch.isdigit() for ch in text):
        raise ScriptError(f"{path}: turns[{index}].text: write numbers as words (TTS and WER)")
    overlap = f.seconds("overlap", 0.0, 1.5) or 0.0
    pause = f.seconds("pause_before", None, 10.0)
    if overlap and pause is not None:
        raise ScriptError(f"{path}: turns[{index}]: give overlap or pause_before, not both")
    return ScriptTurn(
        speaker=cast(Speaker, f.choice("speaker", SPEAKERS)),
        text=text,
        mood=cast(Mood, f.choice("mood", MOODS)),
        pause_before=pause,
        hold=f.seconds("hold", 0.0, 600.0) or 0.0,
        overlap=overlap,
        blowup=bool(f.get("blowup", bool, False)),
        direction=str(f.get("direction", str, "")),
    )


def _voice(path: Path, voices: dict[str, Any], speaker: str) -> Voice:
    f = _Fields(path, voices.get(speaker), f"voices.{speaker}.")
    pitch = float(f.get("pitch", (int, float), 1.0))
    rate = float(f.get("rate", (int, float), 1.0))
    if not (0.5 <= pitch <= 2.0 and 0.5 <= rate <= 2.0):
        raise ScriptError(f"{path}: voices.{speaker}: pitch and rate must be between 0.5 and 2")
    return Voice(f.choice("engine", ENGINES), f.text("voice"), pitch, rate)
