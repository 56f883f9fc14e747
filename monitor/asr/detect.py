"""Which language a call is in, from the first seconds of its customer's speech (issue #12).

Used when a call's language is not in its metadata (``callmon replay --language auto``, a
config default of ``auto``, an ingest parameter ``language=auto``). The answer is restricted
to the configured languages (``[asr] detect_languages``; all of :mod:`monitor.languages` by
default) and is made of two kinds of evidence:

1. **Acoustic**: Whisper's language token (faster-whisper's language detection on the
   multilingual model's encoder output), its probabilities renormalised over the allowed
   languages. On human English it is near certain. On the synthetic (espeak-ng) Indonesian,
   Malay and Romanian sample calls at 8 kHz it is not: it puts most of its mass on Thai or
   Japanese, and, restricted to en/id/ms/ro, often on English (measured; README
   "Languages"). So English is chosen only when its share is at least ``ENGLISH_MIN``.
2. **Text**: otherwise, the same speech is decoded once per remaining candidate with the
   language forced, and each decode is checked against that language's common words
   (function words and everyday words, below; written for callmon from general knowledge of
   the languages, not from any test or sample text). A forced decode in the right language
   is made of that language's words; in a wrong one it is mostly sound-alike fragments.
   Indonesian and Malay share most words (and espeak-ng speaks them alike), so what tells
   them apart is the words only one of them uses ("bisa", "mau", "karena", "nggak" against
   "boleh", "mahu", "kerana", "nak").

The detector's probability is the softmax of ``log acoustic share + TEXT_WEIGHT x text
score`` over the candidates: a confidence for the board, not a calibrated probability.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from monitor import languages
from monitor.asr.endpoint import Endpointer

SAMPLE_RATE = 16000
# (customer speech, call audio) at which the detector tries: it decides at the first try
# whose confidence reaches CONFIDENT, or at the last. A try is also made when the call's
# audio reaches its second number with less speech than the first (a quiet customer).
STAGES = ((8.0, 25.0), (16.0, 45.0))
SPEECH_S, MAX_WAIT_S = STAGES[0]
CONFIDENT = 0.6
MIN_SPEECH_S = 1.5  # less than this: too little to tell; the fallback language is used
GAP_S = 0.3  # silence put between the collected utterances
ENGLISH_MIN = 0.9  # English's acoustic share (over the allowed languages) needed to pick it
MIN_WORD_CHARS = 3  # shorter words are left out of the text score
# Whisper's language token cannot tell Indonesian from Malay (close languages; espeak-ng even
# speaks them alike): their acoustic shares are pooled, and the text tells them apart.
POOLED = (frozenset({"id", "ms"}),)
WITHIN_POOL = 0.5  # weight of Whisper's own split inside a pool (it leans the right way)
TEXT_WEIGHT = 6.0  # nats per unit of text score (share of the decode's words)

# Common words per language: function words, pronouns, question words, everyday verbs,
# politeness formulas, and the contact centre's everyday nouns where Indonesian and Malay name
# the same thing differently (tagihan/bil, layanan/perkhidmatan, manajer/pengurus). Words two
# languages share count for both (they tell nothing between them); words only one uses decide
# between Indonesian and Malay.
_COMMON = {
    "en": """the a an and or but is are was were be been am i you he she it we they me my
        your our their this that these those to of in on at for with from by about not no yes
        do does did have has had can could would will should just so please thank thanks
        hello hi okay ok what why how when where who which there here if then than get got
        want need know i'm it's don't can't im dont cant is isn't didn't very really""",
    "id": """saya aku anda kamu kami kita mereka dia ia ini itu dan atau tetapi tapi yang di
        ke dari untuk dengan pada dalam ada tidak bukan sudah belum akan sedang juga lagi hanya
        kalau jika apa kenapa mengapa bagaimana kapan berapa siapa mana terima kasih tolong
        mohon baik ya sangat lebih semua setiap sama sekarang nanti masih harus ingin minta
        bisa mau saja karena nggak enggak gak udah banget gimana dong sih kok deh aja kayak
        bilang uang kantor paham besok kemarin silakan telepon pak bu bapak ibu
        tagihan biaya layanan keluhan rekening kartu teknisi manajer pulsa""",
    "ms": """saya aku anda kamu kami kita mereka dia ia ini itu dan atau tetapi tapi yang di
        ke dari untuk dengan pada dalam ada tidak bukan sudah belum akan sedang juga lagi hanya
        kalau jika apa kenapa mengapa bagaimana kapan berapa siapa mana terima kasih tolong
        mohon baik ya sangat lebih semua setiap sama sekarang nanti masih ingin minta
        boleh mahu sahaja kerana tak nak awak dah ni tu je kat macam hendak sebab betul faham
        wang pejabat beritahu esok semalam sila telefon encik cik puan tuan
        bil caj perkhidmatan aduan akaun kad juruteknik pengurus talian""",
    "ro": """și si sau dar nu da este e sunt am ai are avem aveți aveti au eu tu el ea noi voi
        ei ele meu mea mei mele tău tau ta dumneavoastră dumneavoastra vă va mă ma îmi imi
        îți iti să sa ca că care ce cine cum când cand unde de la în in pe cu din pentru prin
        despre un o unui unei acest această aceasta acesta acum aici foarte mai tot toate
        vreau pot puteți puteti poate mulțumesc multumesc bună buna ziua rog bine doar deja
        încă inca iar fost fi nimic ceva luna zi azi astăzi astazi nou nouă noua""",
}
COMMON_WORDS: dict[str, frozenset[str]] = {
    code: frozenset(words.split()) for code, words in _COMMON.items()
}
_WORD = re.compile(r"[^\W\d_]+(?:['’][^\W\d_]+)?")


def words_of(text: str) -> list[str]:
    return _WORD.findall(text.lower().replace("-", " "))


def text_score(texts: Iterable[str], code: str, rivals: Iterable[str]) -> float:
    """How much ``texts`` (the same speech decoded with each candidate language forced) read
    as ``code``: the share of their words that are common words of ``code``, less the share
    that are common words only of a rival (-1..1; 0 for no words). Words under
    ``MIN_WORD_CHARS`` letters are left out: a decode of the wrong language is full of short
    fragments that happen to be words ("ni", "tu", "a", "în")."""
    tokens = [t for text in texts for t in words_of(text) if len(t) >= MIN_WORD_CHARS]
    if not tokens:
        return 0.0
    own = COMMON_WORDS.get(code, frozenset())
    others = frozenset().union(*(COMMON_WORDS.get(r, frozenset()) for r in rivals if r != code))
    foreign = others - own
    hits = sum(t in own for t in tokens)
    misses = sum(t in foreign for t in tokens)
    return (hits - misses) / len(tokens)


@dataclass(frozen=True, slots=True)
class Detection:
    """What the detector decided, and on what."""

    language: str
    probability: float  # the detector's confidence in ``language`` (0..1)
    speech_s: float  # seconds of customer speech it listened to
    acoustic: dict[str, float] = field(default_factory=dict)  # Whisper's share per language
    text: dict[str, float] = field(default_factory=dict)  # text score of each forced decode
    decodes: dict[str, str] = field(default_factory=dict)  # the forced decodes themselves


def allowed_languages(codes: Sequence[str] | None) -> tuple[str, ...]:
    """The configured languages, normalised and in registry order (all when None/empty)."""
    if not codes:
        return languages.LANGUAGE_CODES
    wanted = {languages.check(c) for c in codes}
    return tuple(c for c in languages.LANGUAGE_CODES if c in wanted)


def acoustic_shares(engine: Any, audio: np.ndarray, allowed: Sequence[str]) -> dict[str, float]:
    """Whisper's language probabilities for ``audio`` (16 kHz), renormalised over ``allowed``."""
    from faster_whisper.audio import pad_or_trim

    model = engine.model  # faster_whisper.WhisperModel
    features = model.feature_extractor(audio[: 30 * SAMPLE_RATE])
    encoded = model.encode(pad_or_trim(features[..., : model.feature_extractor.nb_max_frames]))
    probs = {token[2:-2]: p for token, p in model.model.detect_language(encoded)[0]}
    raw = {code: float(probs.get(languages.get(code).speech[0].code, 0.0)) for code in allowed}
    total = sum(raw.values())
    if total <= 0:
        return {code: 1.0 / len(allowed) for code in allowed}
    return {code: p / total for code, p in raw.items()}


def detect(
    engine: Any, audio: np.ndarray, allowed: Sequence[str], fallback: str = "en"
) -> Detection:
    """The language of ``audio`` (the customer's speech, 16 kHz float32), among ``allowed``.

    ``engine`` is the multilingual WhisperEngine (monitor/asr/multilingual.py). Blocking
    (one encoder pass, then one short decode per non-English candidate): call it off the
    event loop.
    """
    allowed = allowed_languages(allowed)
    speech_s = audio.size / SAMPLE_RATE
    if len(allowed) == 1:
        return Detection(allowed[0], 1.0, round(speech_s, 2))
    if speech_s < MIN_SPEECH_S:
        chosen = fallback if fallback in allowed else allowed[0]
        return Detection(chosen, 0.0, round(speech_s, 2))
    shares = acoustic_shares(engine, audio, allowed)
    rounded = {k: round(v, 4) for k, v in shares.items()}
    if "en" in shares and shares["en"] >= ENGLISH_MIN:
        return Detection("en", round(shares["en"], 4), round(speech_s, 2), rounded)
    candidates = [c for c in allowed if c != "en"] or list(allowed)
    if len(candidates) == 1:
        share = shares[candidates[0]] / max(1e-9, sum(shares[c] for c in candidates))
        return Detection(candidates[0], round(share, 4), round(speech_s, 2), rounded)
    decodes: dict[str, str] = {}
    for code in candidates:
        view = engine.with_language(languages.get(code).speech[0].code)
        decodes[code], _ = view.decode(audio, final=False)
    scores: dict[str, float] = {}
    texts: dict[str, float] = {}
    for code in candidates:
        pool = next((p for p in POOLED if code in p), frozenset({code}))
        share = sum(shares[c] for c in candidates if c in pool)
        texts[code] = text_score(decodes.values(), code, candidates)
        scores[code] = (
            math.log(max(share, 1e-6))
            + WITHIN_POOL * math.log(max(shares[code], 1e-6) / max(share, 1e-6))
            + TEXT_WEIGHT * texts[code]
        )
    top = max(scores.values())
    weights = {c: math.exp(s - top) for c, s in scores.items()}
    total = sum(weights.values())
    chosen = max(candidates, key=lambda c: scores[c])
    return Detection(
        chosen,
        round(weights[chosen] / total, 4),
        round(speech_s, 2),
        rounded,
        {k: round(v, 4) for k, v in texts.items()},
        decodes,
    )


class LanguageDetector:
    """One call's detection: fed the customer's audio (16 kHz) as it arrives, it answers once
    (see STAGES); ``finish`` answers on whatever was heard when the call ends first.

    ``detect_fn`` is :func:`detect` bound to an engine and the allowed languages (a seam for
    tests); it is blocking, like ``push`` when it tries: drive it off the event loop."""

    def __init__(self, detect_fn: Any, stages: Sequence[tuple[float, float]] = STAGES) -> None:
        self._detect = detect_fn
        self._stages = list(stages)
        self._collector = SpeechCollector(*self._stages[0])
        self.tries: list[Detection] = []
        self.result: Detection | None = None

    def push(self, samples: np.ndarray) -> Detection | None:
        if self.result is not None:
            return self.result
        self._collector.push(samples)
        if not self._collector.ready:
            return None
        found = self._detect(self._collector.speech())
        self.tries.append(found)
        self._stages.pop(0)
        if found.probability >= CONFIDENT or not self._stages:
            self.result = found
        else:
            self._collector.need = int(self._stages[0][0] * SAMPLE_RATE)
            self._collector.max_wait = int(self._stages[0][1] * SAMPLE_RATE)
        return self.result

    def finish(self, tail: np.ndarray | None = None) -> Detection:
        """The answer once the audio ended: ``tail`` (the resampler's last samples) is heard
        first, then the detector answers on what it has if it had not yet."""
        if tail is not None and len(tail):
            self.push(tail)
        if self.result is None:
            self.result = self._detect(self._collector.speech())
            self.tries.append(self.result)
        return self.result


class SpeechCollector:
    """Gathers one channel's speech (16 kHz) until there is enough to detect its language.

    ``push`` feeds audio; ``ready`` says when ``SPEECH_S`` of speech were heard or
    ``MAX_WAIT_S`` of audio went by; ``speech()`` is what was heard, utterances joined by a
    short silence.
    """

    def __init__(self, speech_s: float = SPEECH_S, max_wait_s: float = MAX_WAIT_S) -> None:
        self._endpointer = Endpointer(SAMPLE_RATE)
        self._blocks: list[np.ndarray] = []  # joined once, in speech(): no copy per push
        self._spans: list[tuple[int, int]] = []
        self._open: int | None = None
        self.fed = 0
        self.need = int(speech_s * SAMPLE_RATE)
        self.max_wait = int(max_wait_s * SAMPLE_RATE)

    def push(self, samples: np.ndarray) -> None:
        block = np.asarray(samples, dtype=np.float32)
        self._blocks.append(block)
        self.fed += len(block)
        for b in self._endpointer.push(block):
            if b.kind == "start":
                self._open = b.sample
            elif self._open is not None:
                self._spans.append((self._open, b.sample))
                self._open = None

    @property
    def heard(self) -> int:
        """Samples of speech so far (an utterance still open counts up to now)."""
        closed = sum(b - a for a, b in self._spans)
        return closed + (self.fed - self._open if self._open is not None else 0)

    @property
    def ready(self) -> bool:
        return self.heard >= self.need or self.fed >= self.max_wait

    def speech(self) -> np.ndarray:
        spans = list(self._spans)
        if self._open is not None:
            spans.append((self._open, self.fed))
        buf = np.concatenate(self._blocks) if self._blocks else np.zeros(0, dtype=np.float32)
        gap = np.zeros(int(GAP_S * SAMPLE_RATE), dtype=np.float32)
        parts: list[np.ndarray] = []
        for a, b in spans:
            parts += [buf[a:b], gap]
        return np.concatenate(parts[:-1]) if parts else np.zeros(0, dtype=np.float32)


def detect_from_start(
    engine: Any, samples: np.ndarray, rate: int, allowed: Sequence[str]
) -> tuple[Detection, float]:
    """Detect the language of a recorded channel (``samples`` at ``rate``) the way a call's
    pipeline does, fed in 0.1 s blocks from its start: the detection and the call time (s) at
    which it was made. For the tests and ``eval/eval_languages.py``."""
    from monitor.sources.resample import StreamResampler

    resampler = StreamResampler(rate, SAMPLE_RATE)
    detector = LanguageDetector(lambda audio: detect(engine, audio, allowed))
    step = max(1, rate // 10)
    for i in range(0, len(samples), step):
        found = detector.push(resampler.push(np.asarray(samples[i : i + step], np.float32)))
        if found is not None:
            return found, min(i + step, len(samples)) / rate
    return detector.finish(resampler.flush()), len(samples) / rate
