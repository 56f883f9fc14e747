"""Language detection on audio it was not tuned on: ``languages.detection_held_apart``.

``languages.detection`` (eval/eval_languages.py) runs the detector on the sample calls its
weights and thresholds were set on, so its 8/8 is not an accuracy estimate. This trial uses
calls the detector was never tuned on:

- id, ms, ro: new calls rendered from the test utterances in
  ``eval/data/languages/<lang>.tsv`` (never used for detection tuning): the customer lines,
  shuffled with a fixed seed, 8 per call, 4 calls per language; an agent line (the file's
  neutral agent lines, in turn) after every second customer line. They are written as sample
  scripts into ``var/detection_held_apart/scripts/`` and rendered at 8 kHz by the sample
  machinery (:func:`monitor.samples.render_all`, espeak-ng), each call's customer in another
  espeak-ng variant of the language's voice (the samples' own customer voice is one of them);
- en: the external calls of ``eval/data/cross_calls/`` at 8 kHz (rendered as
  eval/eval_cross_calls.py renders them) and the 7 English sample calls (16 kHz renders taken to
  8 kHz, as ``languages.detection`` does). Two of those (calm_billing, escalates_manager) are
  in the tuned-on figure too: they are marked ``in_tuned_set`` and English is also given
  without them.

Each call's customer channel goes through :func:`monitor.asr.detect.detect_from_start` (the
pipeline's LanguageDetector fed from the call's start) with the languages a pipeline
configured with ``[asr] detect_languages = ["en", "id", "ms", "ro"]`` allows.
"""

from __future__ import annotations

import hashlib
import json
import random
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from monitor.config import REPO_ROOT

LANGS = ("id", "ms", "ro")
DETECT_LANGUAGES = ("en", "id", "ms", "ro")  # the pipeline's [asr] detect_languages here
TEXT_DIR = REPO_ROOT / "eval" / "data" / "languages"
WORK_DIR = REPO_ROOT / "var" / "detection_held_apart"
CALLS_PER_LANGUAGE = 4
CUSTOMER_TURNS = 8
# espeak-ng variants for the customer, one per call (f3 is the sample calls' customer voice)
CUSTOMER_VARIANTS = ("f3", "m1", "f2", "m4")
AGENT_VARIANT = "m3"
TUNED_ON = ("calm_billing", "escalates_manager")  # English calls also in languages.detection
SOURCE = (
    "id/ms/ro: {n_held} calls rendered for this trial at 8 kHz by espeak-ng (the sample "
    "machinery) from the customer utterances of eval/data/languages/{{id,ms,ro}}.tsv (written "
    "for callmon, never used to tune the detector), 8 customer lines per call (fixed-seed "
    "shuffle), 4 calls per language, a neutral agent line from the same file after every "
    "second customer line, each call's customer in another espeak-ng variant (f3, m1, f2, m4); "
    "en: the {n_cross} external calls of eval/data/cross_calls (ABCD, Taskmaster-1 and CFPB "
    "text, the hibari voice pitch-shifted per party) rendered at 8 kHz as "
    "eval/eval_cross_calls.py does, and the {n_samples} English sample calls "
    "(samples/scripts/*.toml, the same voice) taken from 16 to 8 kHz; "
    "calm_billing and escalates_manager are also in languages.detection (tuned on). Held "
    "apart are the calls and their text, not the voices: the id/ms/ro speech is espeak-ng as "
    "in the tuned-on calls. Synthetic speech only: no real caller is in this figure"
)


def say(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


@dataclass(frozen=True, slots=True)
class Line:
    speaker: str  # "c" | "a"
    sentiment: str
    intents: tuple[str, ...]
    text: str


def read_lines(path: Path) -> list[Line]:
    """The rows of a language test file (intents, sentiment, speaker, text)."""
    out = []
    for n, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not raw.strip() or raw.startswith("#"):
            continue
        cols = raw.split("\t")
        if len(cols) != 4 or cols[2] not in ("c", "a"):
            raise ValueError(f"{path}:{n}: expected intents, sentiment, c/a, text")
        intents = () if cols[0] == "none" else tuple(cols[0].split(","))
        out.append(Line(cols[2], cols[1], intents, cols[3].strip()))
    return out


def _mood(line: Line) -> str:
    if "abuse" in line.intents:
        return "angry"
    return {"negative": "annoyed", "positive": "happy"}.get(line.sentiment, "calm")


def _q(text: str) -> str:
    return json.dumps(text, ensure_ascii=False)  # a JSON string is a TOML basic string


def customer_voice(lang: str, k: int) -> str:
    """The espeak-ng voice of call ``k`` (0-based) of ``lang``'s trial calls."""
    return f"{lang}+{CUSTOMER_VARIANTS[k % len(CUSTOMER_VARIANTS)]}"


def held_apart_scripts(lang: str, lines: Sequence[Line]) -> dict[str, str]:
    """The trial's call scripts for ``lang`` (name -> TOML text), from the file's lines."""
    customer = [x for x in lines if x.speaker == "c"]
    agent = [x for x in lines if x.speaker == "a" and x.sentiment == "neutral"] or [
        x for x in lines if x.speaker == "a"
    ]
    need = CALLS_PER_LANGUAGE * CUSTOMER_TURNS
    if len(customer) < need or not agent:
        raise ValueError(f"{lang}: need {need} customer lines and an agent line")
    order = list(range(len(customer)))
    random.Random(f"detection_held_apart|{lang}").shuffle(order)
    scripts: dict[str, str] = {}
    agent_at = 0
    for k in range(CALLS_PER_LANGUAGE):
        name = f"{lang}_held_{k + 1}"
        picked = [customer[i] for i in order[k * CUSTOMER_TURNS : (k + 1) * CUSTOMER_TURNS]]
        turns: list[tuple[str, Line]] = []
        for j, line in enumerate(picked):
            turns.append(("customer", line))
            if j % 2 == 1 and j < len(picked) - 1:
                turns.append(("agent", agent[agent_at % len(agent)]))
                agent_at += 1
        body = [
            f"# Generated by eval/detection_held_apart.py from eval/data/languages/{lang}.tsv",
            f'name = "{name}"',
            f'title = "{lang} detection trial call {k + 1}"',
            'description = "Test utterances as a call, for the held-apart language detection."',
            'agent_id = "agent-eval"',
            f'language = "{lang}"',
            'queue = "eval"',
            'expected = "calm"',
            "expected_intents = []",
            "",
            "[voices.customer]",
            'engine = "espeak"',
            f'voice = "{customer_voice(lang, k)}"',
            "",
            "[voices.agent]",
            'engine = "espeak"',
            f'voice = "{lang}+{AGENT_VARIANT}"',
            "pitch = 0.8",
        ]
        for speaker, line in turns:
            body += [
                "",
                "[[turns]]",
                f'speaker = "{speaker}"',
                f'mood = "{_mood(line)}"',
                f"text = {_q(line.text)}",
            ]
        scripts[name] = "\n".join(body) + "\n"
    return scripts


def write_scripts(scripts: dict[str, str], folder: Path) -> None:
    """Write the scripts (bytes unchanged when the text is: renders stay cached); drop others."""
    folder.mkdir(parents=True, exist_ok=True)
    for stale in folder.glob("*.toml"):
        if stale.stem not in scripts:
            stale.unlink()
    for name, text in scripts.items():
        path = folder / f"{name}.toml"
        if not path.exists() or path.read_text(encoding="utf-8") != text:
            path.write_text(text, encoding="utf-8")


def summarise(per_call: dict[str, dict[str, Any]], allowed: Sequence[str]) -> dict[str, Any]:
    """Accuracy per true language, overall, and the confusion table (truth -> detected -> n)."""
    truths = sorted({v["truth"] for v in per_call.values()}, key=list(allowed).index)
    per_language: dict[str, Any] = {}
    confusion: dict[str, dict[str, int]] = {}
    for t in truths:
        mine = [v for v in per_call.values() if v["truth"] == t]
        right = sum(v["detected"] == t for v in mine)
        per_language[t] = {
            "calls": len(mine),
            "correct": right,
            "accuracy": round(right / len(mine), 4),
            "mean_decided_at_s": round(sum(v["decided_at_s"] for v in mine) / len(mine), 1),
        }
        confusion[t] = {d: sum(v["detected"] == d for v in mine) for d in allowed}
    correct = sum(v["truth"] == v["detected"] for v in per_call.values())
    return {
        "calls": len(per_call),
        "correct": correct,
        "accuracy": round(correct / max(1, len(per_call)), 4),
        "per_language": per_language,
        "confusion": confusion,
    }


def _customer_8k(wav: Path) -> Any:
    import numpy as np
    import soundfile as sf

    from monitor.sources.resample import StreamResampler

    samples, rate = sf.read(wav, dtype="float32", always_2d=True)
    customer = samples[:, 0]
    if rate != 8000:  # a phone line: 8 kHz, as the other language figures
        down = StreamResampler(rate, 8000)
        customer = np.concatenate([down.push(customer), down.flush()])
    return customer


def detection_held_apart(
    langs: Sequence[str] = LANGS, progress: Callable[[str], None] = say
) -> dict[str, Any]:
    """Run the trial (renders what is missing first); the ``detection_held_apart`` figure."""
    from eval.eval_cross_calls import AUDIO as CROSS_AUDIO
    from eval.eval_cross_calls import SCRIPTS as CROSS_SCRIPTS
    from monitor.asr.detect import allowed_languages, detect_from_start
    from monitor.asr.multilingual import multilingual_engine
    from monitor.samples import AUDIO_DIR as ENGLISH_DIR
    from monitor.samples import render_all

    allowed = allowed_languages(DETECT_LANGUAGES)
    scripts: dict[str, str] = {}
    for lang in langs:
        scripts.update(held_apart_scripts(lang, read_lines(TEXT_DIR / f"{lang}.tsv")))
    write_scripts(scripts, WORK_DIR / "scripts")
    held = render_all(WORK_DIR / "8000", 8000, progress=progress, scripts_dir=WORK_DIR / "scripts")
    cross = render_all(CROSS_AUDIO / "8000", 8000, progress=progress, scripts_dir=CROSS_SCRIPTS)
    english = render_all(ENGLISH_DIR, progress=progress)
    calls = [(c, c.name.split("_")[0], "held_apart") for c in held]
    calls += [(c, "en", "cross_calls") for c in cross]
    calls += [(c, "en", "english_samples") for c in english]
    engine = multilingual_engine(0)
    per_call: dict[str, dict[str, Any]] = {}
    voices = {
        f"{lang}_held_{k + 1}": customer_voice(lang, k)
        for lang in langs
        for k in range(CALLS_PER_LANGUAGE)
    }
    t_all = time.monotonic()
    for call, truth, group in calls:
        t0 = time.monotonic()
        found, at = detect_from_start(engine, _customer_8k(call.wav_path), 8000, allowed)
        entry: dict[str, Any] = {
            "group": group,
            "truth": truth,
            "detected": found.language,
            "probability": found.probability,
            "decided_at_s": round(at, 2),
            "speech_s": found.speech_s,
            "duration_s": round(call.duration, 1),
            "acoustic": found.acoustic,
            "wall_s": round(time.monotonic() - t0, 2),
        }
        if call.name in voices:
            entry["customer_voice"] = f"espeak-ng {voices[call.name]}"
        if call.name in TUNED_ON:
            entry["in_tuned_set"] = True
        per_call[call.name] = entry
        progress(
            f"held-apart detect {call.name} ({truth}): {found.language} "
            f"({found.probability:.2f}) at {at:.1f} s"
        )
    out = summarise(per_call, allowed)
    untuned = {k: v for k, v in per_call.items() if not v.get("in_tuned_set")}
    out["excluding_tuned_on"] = {
        k: summarise(untuned, allowed)[k] for k in ("calls", "correct", "accuracy")
    }
    out["allowed"] = list(allowed)
    out["detector"] = (
        "monitor/asr/detect.py unchanged (detect_from_start: the pipeline's LanguageDetector "
        "fed the customer channel from the call's start; multilingual Whisper base, 1 thread)"
    )
    out["script_digest"] = hashlib.sha256("".join(sorted(scripts.values())).encode()).hexdigest()[
        :16
    ]
    out["wall_s"] = round(time.monotonic() - t_all, 1)
    out["per_call"] = per_call
    out["source"] = SOURCE.format(
        n_held=len(held),
        n_cross=len(cross),
        n_samples=len(english),
    )
    return out


def write_key(figure: dict[str, Any], path: Path) -> None:
    """Set ``languages.detection_held_apart`` in ``path`` and nothing else (other sessions
    rewrite the other keys): read, set, write back."""
    current: dict[str, Any] = json.loads(path.read_text()) if path.exists() else {}
    current.setdefault("languages", {})["detection_held_apart"] = figure
    path.write_text(json.dumps(current, indent=2, sort_keys=True) + "\n")


def report_line(figure: dict[str, Any]) -> str:
    parts = [f"{t} {v['correct']}/{v['calls']}" for t, v in figure["per_language"].items()]
    ex = figure["excluding_tuned_on"]
    return (
        f"language detection, held apart: {figure['correct']}/{figure['calls']} "
        f"({', '.join(parts)}; {ex['correct']}/{ex['calls']} without the 2 tuned-on calls)"
    )
