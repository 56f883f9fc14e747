"""Coaching phrase detectors in en, id, ms and ro, on ASR-style text, through CallRules."""

from __future__ import annotations

import pytest

from monitor.events import CallStarted, FinalUtterance, PromptCard, UtteranceScore
from monitor.rules import CallRules, PhraseBook, Playbook, normalise


@pytest.fixture(scope="module")
def phrases() -> PhraseBook:
    return PhraseBook.load()


@pytest.fixture(scope="module")
def playbook() -> Playbook:
    return Playbook.load()


# (language, list, what an agent says as the recognizer writes it)
DETECTED = [
    ("en", "defensive", "well thats not my fault i dont control the engineers"),
    ("en", "defensive", "okay calm down"),
    ("en", "dont_know", "i dont know to be honest"),
    ("en", "vague_time", "these things usually take four to eight weeks"),
    ("en", "vague_time", "it will be between two and three business days"),
    ("en", "deferral", "ill have to ask a manager"),
    ("en", "acknowledgement", "im so sorry about that"),
    ("id", "defensive", "itu bukan salah saya pak"),
    ("id", "defensive", "bapak harus mengerti ini prosedurnya"),
    ("id", "dont_know", "wah saya tidak tahu bu"),
    ("id", "vague_time", "biasanya empat sampai delapan minggu"),
    ("id", "deferral", "saya harus tanya atasan dulu"),
    ("id", "acknowledgement", "mohon maaf atas ketidaknyamanannya"),
    ("ms", "defensive", "itu bukan salah saya encik"),
    ("ms", "dont_know", "saya tak tahu puan"),
    ("ms", "vague_time", "biasanya empat hingga lapan minggu"),
    ("ms", "deferral", "saya perlu tanya pengurus dahulu"),
    ("ms", "acknowledgement", "saya faham perasaan puan"),
    ("ro", "defensive", "nu e vina mea doamnă"),
    ("ro", "defensive", "calmați vă vă rog"),
    ("ro", "dont_know", "sincer nu știu"),
    ("ro", "dont_know", "sincer nu stiu"),  # a recognizer without diacritics
    ("ro", "vague_time", "durează între patru și opt săptămâni"),
    ("ro", "vague_time", "de obicei patru pana la opt saptamani"),
    ("ro", "deferral", "trebuie să întreb un manager"),
    ("ro", "acknowledgement", "vă înțeleg perfect"),
    ("en", "refusal", "im afraid we cant waive the fee"),
    ("id", "refusal", "mohon maaf tidak bisa pak"),
    ("ms", "refusal", "saya tak boleh batalkan yuran itu"),
    ("ro", "refusal", "din păcate nu putem anula taxa"),
    ("en", "heated", "are you even listening to me"),
    # ultimatums: a condition on the company, then "I will", before the threat is said
    ("en", "heated", "if you do not comply with this request i will"),
    ("en", "heated", "if i dont get my money back by friday im going to"),
    ("en", "heated", "unless you refund me today ill"),
    ("en", "heated", "how many more times do i have to explain this"),
    ("en", "heated", "about time ive been waiting twenty minutes"),
    ("id", "heated", "ini keterlaluan"),
    ("ms", "heated", "ini sudah melampau"),
    ("ro", "heated", "este inacceptabil"),
]

NOT_DETECTED = [
    ("en", "dont_know", "i know exactly what happened"),
    ("en", "vague_time", "i will send it to you by the fourth of may"),
    ("en", "vague_time", "talk to two people"),
    ("en", "defensive", "i understand you are upset"),
    ("en", "heated", "if i dont hear back by friday ill call again"),
    ("en", "heated", "if you dont have it in stock ill take the blue one"),
    ("en", "heated", "ill be in on friday if that helps"),
    ("en", "heated", "how many times can i change the delivery date"),
    ("en", "heated", "can i ask about time slots for saturday"),
    ("id", "vague_time", "teknisi datang hari jumat tanggal empat"),
    ("ms", "dont_know", "saya tahu masalahnya"),
    ("ro", "dont_know", "știu exact ce s-a întâmplat"),
]


@pytest.mark.parametrize(("language", "name", "text"), DETECTED)
def test_detected(phrases: PhraseBook, language: str, name: str, text: str) -> None:
    assert phrases.find(name, language, text), (language, name, text)


@pytest.mark.parametrize(("language", "name", "text"), NOT_DETECTED)
def test_not_detected(phrases: PhraseBook, language: str, name: str, text: str) -> None:
    assert not phrases.find(name, language, text), (language, name, text)


def test_normalise_is_asr_style() -> None:
    assert normalise("That's NOT my fault!") == "thats not my fault"
    assert normalise("Calmați-vă, vă rog…") == "calmati va va rog"
    assert normalise("  four  to\teight weeks. ") == "four to eight weeks"


def test_english_code_switching_is_also_caught(phrases: PhraseBook) -> None:
    assert phrases.find("dont_know", "ms", "sorry no idea lah")


@pytest.mark.parametrize(
    ("language", "text", "card_title"),
    [
        ("en", "i dont know", "Instead of 'I don't know'"),
        ("id", "saya tidak tahu pak", "Jangan bilang 'saya tidak tahu'"),
        ("ms", "saya tak tahu encik", "Elakkan 'saya tidak tahu'"),
        ("ro", "nu știu doamnă", "În loc de „nu știu”"),
    ],
)
def test_coaching_card_in_the_agents_language(
    playbook: Playbook, language: str, text: str, card_title: str
) -> None:
    rules = CallRules(playbook, CallStarted("c", "t", "agent-1", language=language))
    utt = FinalUtterance("c", "agent", 0, text, 1.0, 2.0)
    score = UtteranceScore("c", 0, "agent", 2.0, "neutral", (0.1, 0.8, 0.1))
    cards = [e for e in rules.on_utterance(utt, score) if isinstance(e, PromptCard)]
    assert [(c.kind, c.title, c.language) for c in cards] == [("find_out", card_title, language)]


def test_customer_saying_a_coaching_phrase_is_not_coached(playbook: Playbook) -> None:
    rules = CallRules(playbook, CallStarted("c", "t", "agent-1"))
    utt = FinalUtterance("c", "customer", 0, "i dont know my account number", 1.0, 2.0)
    score = UtteranceScore("c", 0, "customer", 2.0, "neutral", (0.1, 0.8, 0.1))
    assert [e for e in rules.on_utterance(utt, score) if isinstance(e, PromptCard)] == []
