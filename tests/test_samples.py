"""The bundled sample calls: scripts load and say what the evaluations need; rendering is real.

Renders with the real TTS engines (hibari-tts; espeak-ng where asked) into tmp folders and
measures the audio: channels, lengths, bytes, loudness, speaking rate and pitch by mood.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from monitor import samples
from monitor.samples import (
    CallScript,
    RenderedCall,
    ScriptError,
    list_scripts,
    load_rendered,
    load_script,
    render,
    render_all,
)

REQUIRED = {
    "calm_billing",
    "escalates_manager",
    "deescalated_refund",
    "abusive_customer",
    "long_hold",
    "legal_threat",
}

HEADER = """
name = "{name}"
title = "Test call"
description = "Made up by the test."
agent_id = "agent-test"
language = "en"
queue = "test"
expected = "escalates"

[voices.customer]
engine = "{engine}"
voice = "{voice}"

[voices.agent]
engine = "{engine}"
voice = "{voice}"
pitch = 0.8
"""

SENTENCE = "I have been waiting all week for somebody to call me back about this."


def write_script(folder: Path, name: str, turns: str, engine: str = "hibari") -> Path:
    voice = "heart" if engine == "hibari" else "en-us+m3"
    path = folder / f"{name}.toml"
    path.write_text(HEADER.format(name=name, engine=engine, voice=voice) + turns)
    return path


def turn(speaker: str, text: str, mood: str = "calm", extra: str = "") -> str:
    return f'\n[[turns]]\nspeaker = "{speaker}"\nmood = "{mood}"\ntext = "{text}"\n{extra}\n'


def level_dbfs(x: np.ndarray) -> float:
    return 10 * float(np.log10(np.mean(np.square(x, dtype=np.float64)) + 1e-20))


def median_f0(x: np.ndarray, rate: int) -> float:
    """Autocorrelation pitch over loud 40 ms frames, 70-400 Hz."""
    frame = int(0.04 * rate)
    loud_floor = np.max(np.abs(x)) * 0.2
    lo, hi = int(rate / 400), int(rate / 70)
    f0s = []
    for i in range(0, x.size - frame, frame):
        seg = x[i : i + frame] - np.mean(x[i : i + frame])
        if np.max(np.abs(seg)) < loud_floor:
            continue
        ac = np.correlate(seg, seg, "full")[frame - 1 :]
        lag = lo + int(np.argmax(ac[lo:hi]))
        if ac[lag] > 0.4 * ac[0]:
            f0s.append(rate / lag)
    assert f0s, "no voiced frames found"
    return float(np.median(f0s))


@pytest.fixture(scope="module")
def escalation(tmp_path_factory: pytest.TempPathFactory) -> RenderedCall:
    script = load_script(next(p for p in list_scripts() if p.stem == "escalates_manager"))
    return render(script, tmp_path_factory.mktemp("esc") / "escalates_manager.wav")


# ------------------------------------------------------------------------------------ scripts


def test_bundled_scripts_load_and_cover_the_required_calls() -> None:
    scripts = {p.stem: load_script(p) for p in list_scripts()}
    assert set(scripts) >= REQUIRED
    assert len({s.agent_id for s in scripts.values()}) >= 3, "several agents across calls"
    for s in scripts.values():
        assert s.language == "en"
        assert {t.speaker for t in s.turns} == {"customer", "agent"}, s.name
        if s.expected in ("escalates", "abusive"):
            assert any(t.blowup and t.speaker == "customer" for t in s.turns), s.name
        else:
            assert not any(t.blowup for t in s.turns), s.name


def test_calm_call_stays_calm_and_escalation_rises() -> None:
    calm = load_script(samples.sample_script.SCRIPTS_DIR / "calm_billing.toml")
    assert {t.mood for t in calm.turns} <= {"calm", "happy"}
    assert calm.expected == "calm" and not calm.expected_intents

    esc = load_script(samples.sample_script.SCRIPTS_DIR / "escalates_manager.toml")
    order = ["calm", "annoyed", "angry", "furious"]
    moods = [order.index(t.mood) for t in esc.turns if t.speaker == "customer"]
    assert moods == sorted(moods), "the customer's mood only rises"
    agent = " ".join(t.text for t in esc.turns if t.speaker == "agent").lower()
    for phrase in ("i don't know", "four to eight weeks", "you need to understand", "calm down"):
        assert phrase in agent
    blowup = next(t for t in esc.turns if t.blowup)
    assert "manager" in blowup.text and "cancel" in blowup.text


def test_long_hold_has_a_long_silence_then_a_complaint() -> None:
    hold = load_script(samples.sample_script.SCRIPTS_DIR / "long_hold.toml")
    i = next(i for i, t in enumerate(hold.turns) if t.hold)
    assert hold.turns[i].hold >= 45
    after = next(t for t in hold.turns[i:] if t.speaker == "customer")
    assert after.mood != "calm" and "wait" in after.text


@pytest.mark.parametrize(
    ("body", "where"),
    [
        (turn("customer", "Hello.", mood="angy"), "turns[0].mood"),
        (turn("caller", "Hello."), "turns[0].speaker"),
        (turn("customer", "It costs 20 pounds."), "turns[0].text"),
        (turn("customer", "Hello.", extra="hold = -3"), "turns[0].hold"),
        (turn("agent", "Hi.") + turn("customer", "Hello.", extra="blowup = 1"), "turns[1].blowup"),
        ("", "turns"),
    ],
)
def test_a_bad_script_names_the_file_and_the_field(tmp_path: Path, body: str, where: str) -> None:
    path = write_script(tmp_path, "bad", body)
    with pytest.raises(ScriptError) as err:
        load_script(path)
    assert str(path) in str(err.value) and where in str(err.value)


def test_missing_fields_and_broken_toml_are_reported(tmp_path: Path) -> None:
    path = tmp_path / "broken.toml"
    path.write_text('name = "broken"\ntitle = ')
    with pytest.raises(ScriptError, match=r"broken\.toml: cannot read"):
        load_script(path)
    path.write_text(HEADER.format(name="broken", engine="hibari", voice="heart").replace(
        'agent_id = "agent-test"\n', ""
    ) + turn("agent", "Hi."))  # fmt: skip
    with pytest.raises(ScriptError, match="agent_id: required field is missing"):
        load_script(path)
    path.write_text(path.read_text().replace('name = "broken"', 'name = "../etc"'))
    with pytest.raises(ScriptError, match=r"name '\.\./etc'"):
        load_script(path)
    with pytest.raises(FileNotFoundError, match="CALLMON_SAMPLE_SCRIPTS"):
        list_scripts(tmp_path / "nowhere")


# ---------------------------------------------------------------------------------- rendering


def test_render_writes_stereo_16k_pcm_of_the_timeline_length(escalation: RenderedCall) -> None:
    info = sf.info(str(escalation.wav_path))
    assert (info.channels, info.samplerate, info.subtype) == (2, 16000, "PCM_16")
    assert info.frames / info.samplerate == pytest.approx(escalation.duration, abs=1e-3)
    assert 60 <= escalation.duration <= 150
    starts = [t.start for t in escalation.turns]
    assert starts == sorted(starts)
    assert escalation.turns[-1].end < escalation.duration
    assert escalation.first_blowup is not None
    assert escalation.first_blowup > 0.6 * escalation.duration, "the blow-up comes late"
    # the sidecar reads back to the same call
    assert load_rendered(escalation.timeline_path) == escalation
    doc = json.loads(escalation.timeline_path.read_text())
    assert doc["channels"] == ["customer", "agent"] and doc["blowups"] == [escalation.first_blowup]


def test_each_party_is_on_its_own_channel(escalation: RenderedCall) -> None:
    audio, rate = sf.read(str(escalation.wav_path), dtype="float32")
    spans: dict[str, list[tuple[float, float]]] = {"customer": [], "agent": []}
    for t in escalation.turns:
        spans[t.speaker].append((t.start, t.end))
    checked = 0
    for t in escalation.turns:
        other = "agent" if t.speaker == "customer" else "customer"
        if any(s < t.end and t.start < e for s, e in spans[other]):
            continue  # talk-over: both channels are busy, on purpose
        seg = audio[int(t.start * rate) : int(t.end * rate)]
        own, silent = (0, 1) if t.speaker == "customer" else (1, 0)
        assert level_dbfs(seg[:, own]) > -40, t.text
        assert level_dbfs(seg[:, silent]) < -65, f"{other} channel not silent during {t.text!r}"
        checked += 1
    assert checked >= 5
    overlaps = [
        t for t in escalation.turns if any(s < t.end and t.start < e for s, e in spans["agent"])
    ]
    assert overlaps, "the heated call has some talk-over"


def test_rendering_is_deterministic(escalation: RenderedCall, tmp_path: Path) -> None:
    script = load_script(next(p for p in list_scripts() if p.stem == "escalates_manager"))
    again = render(script, tmp_path / "escalates_manager.wav")
    assert again.wav_path.read_bytes() == escalation.wav_path.read_bytes()
    assert again.timeline_path.read_text() == escalation.timeline_path.read_text()


def test_angry_customers_are_louder_faster_and_higher(tmp_path: Path) -> None:
    body = "".join(
        turn("customer", SENTENCE, mood=m) + turn("agent", "I see.")
        for m in ("calm", "annoyed", "angry", "furious")
    )
    call = render(load_script(write_script(tmp_path, "moods", body)), tmp_path / "moods.wav")
    audio, rate = sf.read(str(call.wav_path), dtype="float32")
    measured = {}
    for t in call.turns:
        if t.speaker == "customer":
            seg = audio[int(t.start * rate) : int(t.end * rate), 0]
            measured[t.mood] = (samples.active_level_dbfs(seg, rate), t.end - t.start,
                                median_f0(seg, rate))  # fmt: skip
    (calm_db, calm_s, calm_f0), (fur_db, fur_s, fur_f0) = measured["calm"], measured["furious"]
    assert fur_db > calm_db + 6, measured
    assert fur_s < calm_s * 0.9, measured
    assert fur_f0 > calm_f0 * 1.1, measured
    levels = [measured[m][0] for m in ("calm", "annoyed", "angry", "furious")]
    durations = [measured[m][1] for m in ("calm", "annoyed", "angry", "furious")]
    assert levels == sorted(levels) and durations == sorted(durations, reverse=True), measured
    assert np.max(np.abs(audio)) < 1.0, "the limiter keeps furious speech off full scale"


def test_holds_are_silent_on_both_channels_and_rates_are_honoured(tmp_path: Path) -> None:
    body = turn("agent", "Please hold.") + turn("agent", "Thanks for waiting.", extra="hold = 6.0")
    call = render(load_script(write_script(tmp_path, "hold", body)), tmp_path / "h.wav", 8000)
    assert call.holds == ((call.turns[0].end, call.turns[1].start),)
    assert call.turns[1].start - call.turns[0].end == pytest.approx(6.0, abs=1e-3)
    audio, rate = sf.read(str(call.wav_path), dtype="float32")
    assert rate == 8000
    start, end = call.holds[0]
    assert level_dbfs(audio[int(start * rate) + 80 : int(end * rate)]) < -65
    with pytest.raises(ValueError, match="sample_rate 44100"):
        render(call_script(tmp_path), tmp_path / "x.wav", 44100)


def test_a_voice_that_would_need_a_download_is_refused(tmp_path: Path) -> None:
    path = write_script(tmp_path, "voice", turn("customer", "Hello."))
    path.write_text(path.read_text().replace('voice = "heart"', 'voice = "emma"', 1))
    with pytest.raises(ScriptError, match=r"voice\.toml: voices\.customer: .*'emma'"):
        render(load_script(path), tmp_path / "voice.wav")
    assert not list(tmp_path.glob("*.wav*")), "nothing half-written is left behind"


def call_script(folder: Path) -> CallScript:
    return load_script(write_script(folder, "one", turn("agent", "Hello.")))


def test_espeak_engine_renders_too(tmp_path: Path) -> None:
    if shutil.which("espeak-ng") is None:
        pytest.skip("espeak-ng is not installed (apt-get install espeak-ng)")
    body = turn("agent", "Hello, how can I help?") + turn("customer", SENTENCE, mood="angry")
    path = write_script(tmp_path, "robot", body, engine="espeak")
    first = render(load_script(path), tmp_path / "a" / "robot.wav")
    second = render(load_script(path), tmp_path / "b" / "robot.wav")
    assert first.wav_path.read_bytes() == second.wav_path.read_bytes()
    assert sf.info(str(first.wav_path)).channels == 2


def test_render_all_skips_up_to_date_calls(tmp_path: Path) -> None:
    scripts = tmp_path / "scripts"
    scripts.mkdir()
    write_script(scripts, "first", turn("agent", "Hello there."))
    write_script(scripts, "second", turn("customer", "Hi, it's me again.", mood="annoyed"))
    dest = tmp_path / "audio"
    messages: list[str] = []
    made = render_all(dest, scripts_dir=scripts, progress=messages.append)
    assert [c.name for c in made] == ["first", "second"] and not any(c.skipped for c in made)
    again = render_all(dest, scripts_dir=scripts, progress=messages.append)
    assert all(c.skipped for c in again) and "up to date" in messages[-1]
    write_script(scripts, "second", turn("customer", "Hi, it's me once more.", mood="annoyed"))
    changed = render_all(dest, scripts_dir=scripts)
    assert [c.skipped for c in changed] == [True, False]
    assert [c.skipped for c in render_all(dest, scripts_dir=scripts, force=True)] == [False, False]
    assert samples.main(["render", "--dest", str(dest), "--scripts", str(scripts)]) == 0
    assert samples.main(["render", "--scripts", str(tmp_path / "none")]) == 2
    (scripts / "third.toml").write_text((scripts / "first.toml").read_text())
    with pytest.raises(ScriptError, match="must match the file name 'third'"):
        render_all(dest, scripts_dir=scripts)


def test_other_languages_need_an_espeak_voice(tmp_path: Path) -> None:
    body = turn("customer", "Saya sudah menunggu satu jam.", mood="angry")
    text = write_script(tmp_path, "indo", body).read_text().replace('"en"', '"id"')
    (tmp_path / "indo.toml").write_text(text)
    with pytest.raises(ScriptError, match="hibari speaks only English"):
        load_script(tmp_path / "indo.toml")
    if shutil.which("espeak-ng") is None:
        pytest.skip("espeak-ng is not installed (apt-get install espeak-ng)")
    espeak = text.replace('"hibari"', '"espeak"').replace('"heart"', '"id"')
    (tmp_path / "indo.toml").write_text(espeak)
    call = render(load_script(tmp_path / "indo.toml"), tmp_path / "indo.wav")
    assert call.turns[0].end - call.turns[0].start > 1.0


@pytest.mark.slow
def test_every_bundled_call_renders_to_60_to_150_seconds(tmp_path: Path) -> None:
    for call in render_all(tmp_path):
        assert 60 <= call.duration <= 150, (call.name, call.duration)
        if call.name == "long_hold":
            assert any(end - start >= 45 for start, end in call.holds)
