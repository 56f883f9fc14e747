"""The languages callmon supports, in one place: codes, names, speech models and scoring.

Every module that needs the set of languages, a language's display name or which recogniser
transcribes it asks this registry, and every language code from outside (a Twilio parameter,
a CLI flag, a call's metadata: "id-ID", "ms_MY", "ro-RO", "EN-us") goes through
:func:`normalise`, so a code is read the same way at every entrance.

Adding a language means one entry here plus its data: cards (``monitor/rules/cards.toml``),
phrases (``phrases.toml``), risk reasons (``reasons.toml``), keyword cues and a lexicon
(``monitor/scoring``). Those loaders check their tables against :data:`LANGUAGE_CODES`, so a
missing translation is an error at start-up, not an English card on a Malay agent's screen.
"""

from __future__ import annotations

from dataclasses import dataclass

DEFAULT_LANGUAGE = "en"
# "Not known: detect it" (monitor/asr/detect.py): accepted wherever a call's language comes
# in (CLI, config default, ingest parameters); never an event's language, which is always
# one of LANGUAGE_CODES (the call starts in the fallback and is re-announced once detected).
AUTO = "auto"


@dataclass(frozen=True, slots=True)
class SpeechModel:
    """One recogniser that can transcribe a language, as ``monitor/asr`` names it."""

    engine: str  # "whisper" | "vosk": the engine module in monitor/asr
    model: str  # the model's name as monitor/asr/models.py resolves and lists it
    code: str  # the language code the engine is told (Whisper's ``language=``)


@dataclass(frozen=True, slots=True)
class Language:
    code: str  # ISO 639-1, lowercase: what every event, card and table is keyed by
    name: str  # in English, for logs, errors and the README
    native_name: str  # in the language itself, for language pickers on the pages
    locale: str  # BCP 47 with the region, as telephony platforms name it (Genesys AudioHook)
    # Recognisers that transcribe it, best first. monitor/asr/multilingual.py gives a call the
    # configured engine when the language has a model of that engine other than the
    # multilingual Whisper, and the multilingual Whisper told this language otherwise.
    speech: tuple[SpeechModel, ...]
    # True: the trained English text model scores its utterances (cues back it up). False:
    # keyword cues give the intents and the translated AFINN lexicon the sentiment
    # (monitor/scoring/service.py); the English model's vocabulary means nothing there.
    text_model: bool


_WHISPER_TINY_EN = SpeechModel("whisper", "tiny.en", "en")
_VOSK_SMALL_EN = SpeechModel("vosk", "vosk-model-small-en-us-0.15", "en")


def _whisper_base(code: str) -> tuple[SpeechModel, ...]:
    """Multilingual Whisper base (monitor/asr/multilingual.py), told the call's language."""
    return (SpeechModel("whisper", "base", code),)


LANGUAGES: tuple[Language, ...] = (
    Language(
        "en", "English", "English", "en-US", (_WHISPER_TINY_EN, _VOSK_SMALL_EN), text_model=True
    ),
    Language("id", "Indonesian", "Bahasa Indonesia", "id-ID", _whisper_base("id"), False),
    Language("ms", "Malay", "Bahasa Melayu", "ms-MY", _whisper_base("ms"), False),
    Language("ro", "Romanian", "Română", "ro-RO", _whisper_base("ro"), False),
)
BY_CODE: dict[str, Language] = {language.code: language for language in LANGUAGES}
LANGUAGE_CODES: tuple[str, ...] = tuple(BY_CODE)


def normalise(code: str) -> str | None:
    """The supported code for a language tag, or None when the language is not supported.

    Only the primary subtag counts: "id-ID", "ID", "ms_MY", "ro-RO", "en-US" and "en-GB" are
    id, id, ms, ro, en and en; "" and "de-DE" are None. "auto" (detect it) stays "auto".
    """
    primary = code.strip().lower().replace("_", "-").split("-")[0]
    return primary if primary in BY_CODE or primary == AUTO else None


def resolve(code: str) -> str:
    """Like :func:`normalise`, but an unsupported language falls back to English.

    For places that must pick some language to work in (cards, cues, reasons); places that
    accept input from outside should refuse with :func:`check` instead.
    """
    found = normalise(code)
    return found if found is not None and found != AUTO else DEFAULT_LANGUAGE


def is_auto(code: str) -> bool:
    """Whether ``code`` asks for the language to be detected."""
    return normalise(code) == AUTO


def check(code: str) -> str:
    """The supported code for ``code``; a ValueError naming the supported ones otherwise
    ("auto" too: use :func:`check_call_language` where a call's language may be detected)."""
    found = normalise(code)
    if found is None or found == AUTO:
        raise ValueError(f"unsupported language {code!r}; supported: {', '.join(LANGUAGE_CODES)}")
    return found


def check_call_language(code: str) -> str:
    """Like :func:`check`, but "auto" (detect the language) is accepted and returned."""
    return AUTO if is_auto(code) else check(code)


def get(code: str) -> Language:
    """The registry entry for ``code`` (any tag :func:`normalise` accepts; English otherwise)."""
    return BY_CODE[resolve(code)]


def is_english(code: str) -> bool:
    return normalise(code) == "en"


def speech_model(code: str, engine: str) -> SpeechModel | None:
    """The best model of ``engine`` for the language of ``code``; None when it has none."""
    return next((m for m in get(code).speech if m.engine == engine), None)


def display_names() -> list[dict[str, str]]:
    """[{"code", "name"}] in registry order, native names: what the pages' pickers show."""
    return [{"code": language.code, "name": language.native_name} for language in LANGUAGES]
