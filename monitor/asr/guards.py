"""Guards against Whisper's two failure modes that look like speech to the scorer.

- **Repetition loops**: the decoder repeats a word or a phrase until the token cap ("nanya
  nanya nanya nanya …", "kali-kali-kali-…"). The multilingual base model does this far more
  often than tiny.en on accented or synthetic speech. :func:`trim_repetition` keeps at most
  ``MAX_REPEATS`` consecutive copies of any run of 1..``MAX_GRAM`` tokens and cuts the rest
  (the text before the loop is usually right; the loop adds nothing but false cue matches).
- **Hallucinated text on silence and noise**: "Terima kasih.", "Mulțumesc.", "Subtitrare …",
  or a long run of one syllable. Whisper's own no-speech rule catches most of it (the engine
  applies it); :func:`looks_hallucinated` drops what is left: text that compresses like a
  loop (gzip ratio over ``MAX_COMPRESSION``, Whisper's own threshold in its temperature
  fallback), and the subtitle credits Whisper learnt from film subtitles, which no caller says.

Pure functions on token ids and text: the engine (monitor/asr/whisper_engine.py) calls them
after each decode.
"""

from __future__ import annotations

import re
import zlib
from collections.abc import Sequence

MAX_REPEATS = 2  # "sama sama" and "nanti nanti" are real; a third copy is a loop
MAX_GRAM = 6  # tokens in the longest repeated run looked for
MAX_COMPRESSION = 2.4  # Whisper's compression_ratio_threshold
MIN_CHARS_FOR_RATIO = 24  # short texts do not compress either way
# Credits from the subtitle files Whisper was trained on, in the languages callmon supports.
_CREDITS = re.compile(
    r"(subtitl|subtitrar|sarikata|terjemahan oleh|diterjemahkan|amara\.org|"
    r"transcri(pt|ption) by|thanks for watching|terima kasih telah menonton|"
    r"terima kasih kerana menonton|mulțumesc pentru vizionare|nu uitați să vă abonați|"
    r"jangan lupa (like|subscribe)|sila langgan)",
    re.IGNORECASE,
)


def trim_repetition(tokens: Sequence[int], max_repeats: int = MAX_REPEATS) -> list[int]:
    """``tokens`` cut where any run of 1..MAX_GRAM tokens repeats more than ``max_repeats``
    times in a row (the first ``max_repeats`` copies are kept)."""
    out = list(tokens)
    cut = len(out)
    for n in range(1, MAX_GRAM + 1):
        i = 0
        while i + n * (max_repeats + 1) <= cut:
            gram = out[i : i + n]
            copies = 1
            while out[i + copies * n : i + (copies + 1) * n] == gram:
                copies += 1
            if copies > max_repeats:
                cut = min(cut, i + max_repeats * n)
                break
            i += 1
    return out[:cut]


def compression_ratio(text: str) -> float:
    data = text.encode("utf-8")
    return len(data) / len(zlib.compress(data)) if data else 0.0


def looks_hallucinated(text: str) -> bool:
    """True for text no caller said: a loop that survived trimming, or subtitle credits."""
    stripped = text.strip()
    if not stripped:
        return False
    if len(stripped) >= MIN_CHARS_FOR_RATIO and compression_ratio(stripped) > MAX_COMPRESSION:
        return True
    return bool(_CREDITS.search(stripped))
