"""A scripted escalating call as real events (and audio), for the QA page demo and tests.

Everything is a function of ``call_id`` and ``seed``: the same arguments give the same events
and the same samples. The customer reads out a card number and a phone number the way a
recogniser writes them; pass the events through :func:`monitor.redact.pii.redact_event`
as the pipeline does.

``python -m monitor.qa.example [STORE]`` stores a few example calls for trying the QA page
without any model (``callmon serve`` then open /qa.html).
"""

from __future__ import annotations

import numpy as np

from monitor import events as ev

CARD_SPOKEN = "four five seven two three four five six seven eight nine zero one two three one"
CARD_DIGITS = "4572345678901231"  # passes the Luhn check
PHONE_DIGITS = "02079460958"

_SCRIPT: tuple[tuple[str, float, float, str], ...] = (
    ("agent", 0.5, 2.5, "Thank you for calling, how can I help you today"),
    ("customer", 3.0, 7.0, "This is the third time I call about my refund and nobody helps"),
    ("agent", 6.5, 8.5, "Calm down, that is not my fault"),
    ("customer", 9.0, 13.0, "I want to speak to your manager right now"),
    ("customer", 13.5, 18.5, f"my card number is {CARD_SPOKEN}"),
    ("customer", 19.0, 22.0, "call me back on 020 7946 0958 you useless idiot"),
    ("agent", 22.5, 25.5, "I understand how frustrating this is, I will fix it today"),
    ("customer", 26.0, 28.0, "fine, thank you"),
)
# per utterance: (negative, neutral, positive) and intents above threshold
_SCORES: tuple[tuple[tuple[float, float, float], tuple[tuple[str, float], ...]], ...] = (
    ((0.05, 0.6, 0.35), ()),
    ((0.8, 0.15, 0.05), (("repeat_contact", 0.91),)),
    ((0.55, 0.4, 0.05), ()),
    ((0.85, 0.1, 0.05), (("manager_demand", 0.95),)),
    ((0.3, 0.65, 0.05), ()),
    ((0.92, 0.06, 0.02), (("abuse", 0.88),)),
    ((0.1, 0.5, 0.4), ()),
    ((0.15, 0.45, 0.4), ()),
)
DURATION = 29.0


def _extras(call_id: str) -> dict[int, tuple[ev.Event, ...]]:
    """Talk-over, cards and alerts that follow an utterance (by its seq)."""
    return {
        2: (
            ev.TalkOver(call_id, "agent", 6.5, 7.0),
            ev.PromptCard(
                call_id, f"{call_id}:c1", 8.5, "en", "stop_listen", "Stop and listen",
                "Let the customer finish, then acknowledge.", "defensive_phrase",
            ),
        ),
        3: (
            ev.Alert(
                call_id, f"{call_id}:a1", 13.0, "warning", "manager_demand",
                "Customer asks for a manager", ("manager_demand 0.95",),
            ),
            ev.PromptCard(
                call_id, f"{call_id}:c2", 13.0, "en", "take_ownership", "Take ownership",
                "Say what you will do, and by when.", "manager_demand",
            ),
        ),
        5: (
            ev.Alert(
                call_id, f"{call_id}:a2", 22.0, "critical", "abuse",
                "Abusive language from the customer", ("abuse 0.88",),
            ),
        ),
    }  # fmt: skip


def _words(text: str, start: float, end: float) -> tuple[ev.Word, ...]:
    parts = text.split()
    step = (end - start) / len(parts)
    return tuple(
        ev.Word(w, round(start + i * step, 3), round(start + (i + 1) * step, 3), 0.9)
        for i, w in enumerate(parts)
    )


def example_call(
    call_id: str = "example-1", agent_id: str = "agent-7", name: str = "refund escalation"
) -> list[ev.Event]:
    """The events a monitored escalating call produces, in order of emission."""
    out: list[ev.Event] = [
        ev.CallStarted(call_id, name, agent_id, queue="billing", language="en", source="example")
    ]
    risk = 5.0
    for seq, ((speaker, start, end, text), (probs, intents)) in enumerate(
        zip(_SCRIPT, _SCORES, strict=True)
    ):
        who: ev.Speaker = "customer" if speaker == "customer" else "agent"
        out.append(ev.PartialUtterance(call_id, who, seq, text.split()[0], start, start + 0.5))
        features = ev.AcousticFeatures(-20.0 + 4 * probs[0], 180.0, 2.5, end - start, 0.5)
        words = _words(text, start, end)
        out.append(ev.FinalUtterance(call_id, who, seq, text, start, end, words, features, "ex"))
        mood: ev.Sentiment = (
            "negative" if probs[0] > 0.5 else "positive" if probs[2] > 0.5 else "neutral"
        )
        out.append(ev.UtteranceScore(call_id, seq, who, end, mood, probs, intents))
        if who == "customer":
            risk = min(100.0, max(0.0, risk + 60 * (probs[0] - 0.4)))
        level = ev.RISK_LEVELS[min(3, int(risk // 27))]
        sentiment = round(probs[2] - probs[0], 3)
        out.append(ev.CallRisk(call_id, end, round(risk, 2), level, sentiment, (f"turn {seq}",)))
        out.extend(_extras(call_id).get(seq, ()))
    out.append(ev.AlertAcknowledged(f"{call_id}:a1", call_id, "sup-1", assigned_to="sup-1"))
    out.append(ev.CardFeedback(f"{call_id}:c1", call_id, "dismissed", agent_id))
    out.append(ev.CardFeedback(f"{call_id}:c2", call_id, "used", agent_id))
    out.append(ev.CallEnded(call_id, DURATION))
    return out


def example_audio(sample_rate: int = 16_000, seed: int = 0) -> np.ndarray:
    """Stereo float32 (n, 2): customer on channel 0, agent on 1, a voice-like buzz while each
    speaks (not speech: enough for the player, the curve and the silencing of PII spans)."""
    rng = np.random.default_rng(seed)
    n = int(DURATION * sample_rate)
    t = np.arange(n) / sample_rate
    audio = (rng.standard_normal((n, 2)) * 0.003).astype(np.float32)
    for speaker, start, end, _ in _SCRIPT:
        ch = 0 if speaker == "customer" else 1
        s0, s1 = int(start * sample_rate), int(end * sample_rate)
        f0 = 140.0 if ch else 210.0
        tone = 0.2 * np.sin(2 * np.pi * f0 * t[s0:s1]) + 0.1 * np.sin(2 * np.pi * 3 * f0 * t[s0:s1])
        audio[s0:s1, ch] += tone.astype(np.float32)
    return audio


def seed(store_path: str, calls: int = 3) -> list[str]:
    """Store ``calls`` copies of the example call (audio included) for trying the QA page."""
    from pathlib import Path

    from monitor.redact.pii import redact_event
    from monitor.store.db import CallStore

    rate = 16_000
    ids = []
    with CallStore(Path(store_path)) as store:
        for i in range(calls):
            call_id = f"example-{i + 1}"
            writer = store.open_audio(call_id, rate, 2)
            writer.write(example_audio(rate, seed=i))
            writer.close()
            for event in example_call(call_id, agent_id=f"agent-{7 + i % 2}"):
                store.persist(redact_event(event))
            ids.append(call_id)
    return ids


if __name__ == "__main__":
    import sys

    target = sys.argv[1] if len(sys.argv) > 1 else "var/callmon.db"
    print("stored", ", ".join(seed(target)), "in", target)
