"""Non-English calls escalate too: Indonesian, Malay and Romanian calls through the real cue path.

For id/ms/ro the scoring service takes intents from keyword cues and sentiment from a lexicon
(monitor.scoring.cues); these tests score with the service's own function for that path
(``cue_scores``), then run CallRules with the default playbook. No model weights are needed.
"""

from __future__ import annotations

import pytest

from monitor.events import (
    INTENTS,
    Alert,
    CallRisk,
    CallStarted,
    Event,
    FinalUtterance,
    PromptCard,
    UtteranceScore,
)
from monitor.rules import CallRules, Playbook

service = pytest.importorskip("monitor.scoring.service", reason="the model helper's service")

CALLS = {
    "id": [
        ("agent", "selamat siang dengan rina ada yang bisa saya bantu"),
        ("customer", "internet saya mati lagi sudah tiga hari"),
        ("agent", "baik boleh saya minta nomor pelanggannya"),
        ("customer", "ini sudah ketiga kalinya saya menelepon soal ini"),
        ("agent", "mohon maaf saya tidak tahu kapan selesainya"),
        ("customer", "yang benar saja ini keterlaluan"),
        ("agent", "biasanya empat sampai delapan minggu"),
        ("customer", "saya mau bicara dengan atasan anda sekarang"),
    ],
    "ms": [
        ("agent", "selamat petang saya aina boleh saya bantu"),
        ("customer", "internet saya terputus lagi sudah tiga hari"),
        ("agent", "baik boleh saya dapatkan nombor akaun"),
        ("customer", "ini kali ketiga saya telefon pasal perkara ini"),
        ("agent", "saya tak tahu bila siap"),
        ("customer", "biar betul ini sudah melampau"),
        ("agent", "biasanya empat hingga lapan minggu"),
        ("customer", "saya mahu bercakap dengan pengurus anda sekarang"),
    ],
    "ro": [
        ("agent", "bună ziua sunt andrei cu ce vă pot ajuta"),
        ("customer", "internetul meu nu merge din nou de trei zile"),
        ("agent", "bine îmi puteți da numărul de client"),
        ("customer", "este a treia oară când sun pentru asta"),
        ("agent", "nu știu când se rezolvă"),
        ("customer", "vorbiți serios este inacceptabil"),
        ("agent", "de obicei între patru și opt săptămâni"),
        ("customer", "vreau să vorbesc cu un manager acum"),
    ],
}


def score(utt: FinalUtterance, language: str) -> UtteranceScore:
    """The scoring service's non-English path: cues for intents, lexicon for sentiment."""
    probs, found = service.cue_scores(utt.text, language)
    intents = tuple((i, p) for i, p in found.items() if p >= 0.5 and i in INTENTS)
    label = ("negative", "neutral", "positive")[max(range(3), key=lambda i: probs[i])]
    return UtteranceScore(utt.call_id, utt.seq, utt.speaker, utt.end, label, probs, intents)  # type: ignore[arg-type]


def play(language: str, lines: list[tuple[str, str]] | None = None) -> list[Event]:
    """CallRules' events on ``lines`` (the language's sample call when not given)."""
    rules = CallRules(Playbook.load(), CallStarted("c", "t", "agent-1", language=language))
    events: list[Event] = []
    clock = 0.0
    for seq, (speaker, text) in enumerate(CALLS[language] if lines is None else lines):
        start = clock + 0.6
        clock = start + len(text.split()) / 2.5
        utt = FinalUtterance("c", speaker, seq, text, start, clock)  # type: ignore[arg-type]
        events.extend(rules.on_utterance(utt, score(utt, language)))
    return events


@pytest.mark.parametrize("language", sorted(CALLS))
def test_non_english_call_escalates_with_cards_in_its_language(language: str) -> None:
    events = play(language)
    alerts = {e.kind for e in events if isinstance(e, Alert)}
    assert "manager_demand" in alerts
    levels = [e.level for e in events if isinstance(e, CallRisk)]
    assert levels[-1] in ("at_risk", "escalated"), levels
    cards = [e for e in events if isinstance(e, PromptCard)]
    assert cards and all(c.language == language for c in cards)
    coached = {c.trigger for c in cards}
    assert coached & {"dont_know", "vague_time"}, coached


# (the agent saying it cannot do what was asked, the customer asking for someone else)
HANDOFF = {
    "id": ("mohon maaf kami tidak bisa mengembalikan dana ke kartu itu",
           "kalau begitu saya mau bicara dengan orang lain saja"),
    "ms": ("maaf kami tidak dapat memulangkan wang ke kad itu",
           "kalau macam tu saya nak bercakap dengan orang lain"),
    "ro": ("din păcate nu putem returna banii pe acel card",
           "atunci vreau să vorbesc cu altcineva"),
}  # fmt: skip


@pytest.mark.parametrize("language", sorted(HANDOFF))
def test_asking_for_someone_else_after_a_refusal_is_a_manager_demand(language: str) -> None:
    """docs/intents.md, manager_demand in the conversation, in the call's language."""
    refusal, ask = HANDOFF[language]
    demand = play(language, [("customer", "tolong"), ("agent", refusal), ("customer", ask)])
    assert "manager_demand" in {e.kind for e in demand if isinstance(e, Alert)}
    # the same words with no refusal before them: nothing added
    plain = play(language, [("agent", "halo"), ("customer", ask)])
    assert "manager_demand" not in {e.kind for e in plain if isinstance(e, Alert)}
