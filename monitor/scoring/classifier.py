"""The utterance text classifier: MiniLM encoder, a sentiment head and a multi-label intent head.

One shared encoder (mean-pooled MiniLM-L6) feeds two linear heads: a 3-way softmax for
sentiment (negative/neutral/positive) and an 8-way sigmoid for the escalation intents, so a turn
can carry several intents and "none" is simply all of them low. One forward pass gives both.
The weights are trained by :mod:`monitor.scoring.train` and stored in ``models/text-classifier``.
"""

from __future__ import annotations

import json
import re
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from monitor.events import INTENTS
from monitor.scoring.data.calls import asr_style, straight_apostrophes

REPO_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_MODEL_DIR = REPO_ROOT / "models" / "text-classifier"
WEIGHTS_FILE = "model.safetensors"
META_FILE = "classifier.json"
MAX_TOKENS = 48
WINDOW_WORDS = 20  # longer turns are scored in windows of this many words, half overlapping
# The rows of one pass are padded to the longest in their group; a group costs about this many
# padded tokens more than its tokens (one more run of the model). Rows of very different
# lengths (a turn and its sentences) run in groups by length (_length_groups).
GROUP_COST_TOKENS = 8
# The agent's turns are marked for the model by this made-up word before the text (a model
# trained with it says so in classifier.json, "agent_mark"): the same words mean different
# things from the two sides ("I can escalate this to my manager" is a service offer from the
# agent, a demand from the customer; "we cannot accept the return" is bad news delivered
# neutrally). Customers' turns, tweets and complaint sentences are not marked, so the customer
# side reads exactly as before. No speech or chat contains the word.
AGENT_MARK = "agentturn"

_URL = re.compile(r"https?://\S+|www\.\S+")
_MENTION = re.compile(r"(^|\s)(rt\s+)?@\w+:?")
_NON_TEXT = re.compile(r"[^a-z0-9\s'.,?!-]")


def normalize(text: str) -> str:
    """Map any input (ASR output, a tweet, a typed sentence) to the ASR style the model sees.

    Lowercase, no URLs or @handles, no punctuation, numbers as words. Training and inference
    both go through here, so the model never depends on punctuation the recognizers do not emit.
    """
    text = _URL.sub(" ", straight_apostrophes(text.lower()))
    text = _MENTION.sub(" ", text)
    text = text.replace("#", " ").replace("&amp;", " and ")
    text = _NON_TEXT.sub(" ", text)
    return asr_style(text)


def _marked(cleaned: str, speaker: str, mark: str | None) -> str:
    """Normalised text as the model reads it from ``speaker``: an agent's behind ``mark``."""
    return f"{mark} {cleaned}" if mark and speaker == "agent" and cleaned else cleaned


def model_text(text: str, speaker: str = "customer", mark: str | None = AGENT_MARK) -> str:
    """What the model reads for one turn: the normalised text, an agent's marked with ``mark``
    (None: a model trained without the mark)."""
    return _marked(normalize(text), speaker, mark)


_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")
# A sentence of fewer words than this is read with the one before it ("... and this is how you
# treat me? I'm off.": "I'm off." alone says nothing). Chosen on validation material (CFPB
# validation complaints, Bitext training requests and ConvAbuse train/valid turns, joined into
# turns of two sentences): 4 kept most of the intents gained by reading sentences alone while
# the turns without an intent that raise one stayed under 5% (1: 6.2%).
MIN_SENTENCE_WORDS = 4


def _split(text: str) -> list[tuple[str, str]]:
    """(sentence, its normalised text) for each sentence of ``text`` (see ``sentences``)."""
    out: list[tuple[str, str]] = []
    for part in _SENTENCE_END.split(text.strip()):
        cleaned = normalize(part)
        if not cleaned:
            continue
        short = len(cleaned.split()) < MIN_SENTENCE_WORDS
        if out and (short or len(out[-1][1].split()) < MIN_SENTENCE_WORDS):
            out[-1] = (f"{out[-1][0]} {part}", f"{out[-1][1]} {cleaned}")
        else:
            out.append((part, cleaned))
    return out


def sentences(text: str) -> list[str]:
    """The sentences of a punctuated turn that have words in them, a short one joined to its
    neighbour; text without sentence punctuation (a recognizer that emits none) is one."""
    return [part for part, _ in _split(text)]


def windows(text: str) -> list[str]:
    """The normalised text, or for a long turn half-overlapping windows of WINDOW_WORDS."""
    if not text:
        return []
    words = text.split()
    if len(words) <= WINDOW_WORDS + WINDOW_WORDS // 4:
        return [text]
    step = WINDOW_WORDS // 2
    return [" ".join(words[i : i + WINDOW_WORDS]) for i in range(0, len(words) - step, step)]


def _length_groups(lengths: Sequence[int]) -> list[list[int]]:
    """Row indices in groups, each to be padded to its longest row, with the least padded
    tokens plus GROUP_COST_TOKENS per group: the rows sorted by length, cut where a cut pays
    (an exact partition of the sorted rows; a pass has tens of rows at most)."""
    order = sorted(range(len(lengths)), key=lambda i: lengths[i])
    n = len(order)
    best = [0.0] + [float("inf")] * n  # best[j]: the cost of the first j sorted rows
    cut = [0] * (n + 1)
    for j in range(1, n + 1):
        width = lengths[order[j - 1]]  # the longest of rows i..j-1
        for i in range(j):
            cost = best[i] + GROUP_COST_TOKENS + (j - i) * width
            if cost < best[j]:
                best[j], cut[j] = cost, i
    groups: list[list[int]] = []
    j = n
    while j > 0:
        groups.append(order[cut[j] : j])
        j = cut[j]
    return groups[::-1]


@dataclass(frozen=True, slots=True)
class TextScores:
    probabilities: tuple[float, float, float]  # negative, neutral, positive
    intents: dict[str, float]  # every name in monitor.events.INTENTS -> probability

    @property
    def sentiment(self) -> str:
        best = max(range(3), key=self.probabilities.__getitem__)
        return ("negative", "neutral", "positive")[best]


class TextModel(nn.Module):
    """Encoder + mean pooling + two heads. Used by training and by inference alike."""

    def __init__(self, encoder: nn.Module, hidden: int, n_intents: int = len(INTENTS)) -> None:
        super().__init__()
        self.encoder = encoder
        self.dropout = nn.Dropout(0.1)
        self.sentiment_head = nn.Linear(hidden, 3)
        self.intent_head = nn.Linear(hidden, n_intents)

    def forward(
        self, input_ids: torch.Tensor, attention_mask: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        hidden = self.encoder(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
        mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
        pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1.0)
        pooled = self.dropout(pooled)
        return self.sentiment_head(pooled), self.intent_head(pooled)


class ModelNotFoundError(FileNotFoundError):
    """The trained classifier is not where it should be."""


def model_files(model_dir: Path) -> tuple[Path, Path]:
    """The weights and classifier.json of a trained classifier in ``model_dir``.

    Raises ModelNotFoundError naming the folder and the fix when either is missing.
    """
    weights, meta_file = model_dir / WEIGHTS_FILE, model_dir / META_FILE
    if not weights.is_file() or not meta_file.is_file():
        raise ModelNotFoundError(
            f"text classifier not found in {model_dir} (need {WEIGHTS_FILE} and {META_FILE}). "
            "The weights ship with the repository under models/text-classifier; if they are "
            "missing, restore them with `git checkout -- models/` or retrain with "
            "`callmon models train` / `make models` (python -m monitor.scoring.train)."
        )
    return weights, meta_file


class TextClassifier:
    """Loads the trained model from disk and scores batches of utterances (sync, CPU)."""

    def __init__(
        self, model: TextModel, tokenizer: Any, meta: dict[str, Any], path: Path, quantized: bool
    ) -> None:
        self._model = model
        self._tokenizer = tokenizer
        self._onnx: Any = None  # an OnnxRunner when ONNX Runtime serves the model
        self.meta = meta
        self.path = path
        self.quantized = quantized
        self.intent_names: tuple[str, ...] = tuple(meta["intents"])
        self.thresholds: dict[str, float] = dict(meta.get("thresholds", {}))
        # trained with the agent's turns marked (AGENT_MARK), or not (older models)
        self.agent_mark: str | None = meta.get("agent_mark")

    @property
    def torch_model(self) -> TextModel:
        """The PyTorch fp32 module behind the scores (a teacher for distillation)."""
        return self._model

    @classmethod
    def load(
        cls,
        path: Path | None = None,
        quantize: bool = False,
        onnx: bool = True,
        precision: str | None = None,
    ) -> TextClassifier:
        """Load ``models/text-classifier`` (or ``path``) for scoring; see ``backend`` after.

        By default the model runs in ONNX Runtime, exported once per weights file
        (monitor/scoring/onnx_backend.py): with int8 weights and per-token int8 activations
        (``precision="w8"``) on a CPU with an int8 dot-product instruction, as trained in fp32
        (``precision="fp32"``) on any other, where int8 is slower (``default_precision``;
        ``$CALLMON_SCORER_PRECISION`` overrides it). ``onnx=False`` runs PyTorch fp32. All
        three are batch-invariant: an utterance gets the same scores alone or in any batch
        (tests/test_scoring_determinism.py).

        ``quantize=True`` gives PyTorch's int8 *dynamic* quantisation, kept only for the
        comparison in eval/ and bench/: it scales activations per batch, so an utterance's
        scores depend on which other calls' utterances share its batch (measured on the
        sample turns: intent probabilities moved by up to 0.5 and 18 threshold decisions
        flipped) — one caller's words changing another call's alerts, and no repeatable replay.

        Raises ModelNotFoundError naming the path and the fix when the weights are missing.
        """
        from safetensors.torch import load_file
        from transformers import AutoTokenizer, BertConfig, BertModel

        model_dir = Path(path) if path is not None else DEFAULT_MODEL_DIR
        weights, meta_file = model_files(model_dir)
        meta = json.loads(meta_file.read_text())
        if tuple(meta["intents"]) != INTENTS:
            raise ValueError(
                f"{meta_file} was trained for intents {meta['intents']}, but "
                f"monitor.events.INTENTS is {list(INTENTS)}; retrain with `make models`."
            )
        config = BertConfig.from_pretrained(str(model_dir))
        model = TextModel(BertModel(config, add_pooling_layer=False), config.hidden_size)
        state = {k: v.float() for k, v in load_file(str(weights)).items()}
        model.load_state_dict(state)
        model.eval()
        if quantize:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # torch.ao deprecation notice; still supported
                model = torch.ao.quantization.quantize_dynamic(
                    model, {nn.Linear}, dtype=torch.qint8
                )
        tokenizer = AutoTokenizer.from_pretrained(str(model_dir))
        classifier = cls(model, tokenizer, meta, model_dir, quantize)
        if onnx and not quantize:
            from monitor.scoring.onnx_backend import default_precision, load_runner

            chosen = default_precision() if precision is None else precision
            classifier._onnx = load_runner(model, tokenizer, weights, chosen)
        return classifier

    @property
    def backend(self) -> str:
        """What scores: onnxruntime-w8, onnxruntime-fp32, torch-fp32 or torch-int8-dynamic."""
        if self._onnx is not None:
            return f"onnxruntime-{self._onnx.precision}"
        return "torch-int8-dynamic" if self.quantized else "torch-fp32"

    def predict(
        self, texts: Sequence[str], speakers: Sequence[str] | None = None
    ) -> list[TextScores]:
        """Score a batch in one forward pass; order is preserved. Empty text -> neutral.

        ``speakers`` ("customer" / "agent", one per text; all customer when omitted): a model
        trained with the agent mark reads the agent's turns marked (``model_text``).

        A long turn (more than 1.25 x WINDOW_WORDS words) is scored as overlapping windows, in
        the same pass: an intent is a local phrase ("get me a manager") that mean pooling over
        a whole paragraph would dilute, so each intent takes its maximum over the pieces while
        sentiment is their mean.

        For the same reason a turn of several sentences takes its intents from its sentences,
        each read alone (and windowed if long): "I ordered it two weeks ago. You are useless."
        is abuse even though the first sentence would dilute the second. Sentiment still reads
        the whole turn. One sentence, or text without punctuation, is read once.
        """
        if not texts:
            return []
        if speakers is not None and len(speakers) != len(texts):
            raise ValueError(f"{len(texts)} texts but {len(speakers)} speakers")
        who = speakers if speakers is not None else ["customer"] * len(texts)
        inputs: list[str] = []
        owner: list[int] = []
        # what each row counts for: a turn of several sentences reads sentiment from its
        # whole text and intents from its sentences, any other turn both from its whole text
        for_sentiment: list[bool] = []
        for_intents: list[bool] = []
        for index, (text, speaker) in enumerate(zip(texts, who, strict=True)):
            parts = _split(text)
            split = len(parts) > 1
            pieces = [(p, True, not split) for p in windows(normalize(text))]
            if split:
                pieces += [(p, False, True) for _, cleaned in parts for p in windows(cleaned)]
            # an agent's mark starts every window of a long turn, not only the first
            for piece, sentiment, intent in pieces:
                inputs.append(_marked(piece, speaker, self.agent_mark))
                owner.append(index)
                for_sentiment.append(sentiment)
                for_intents.append(intent)
        sent, intents = self._forward(inputs) if inputs else ([], [])
        # sentiment: the mean over the whole turn's pieces (a long turn's end counts as much
        # as its start, which truncation to MAX_TOKENS would cut); intents: the maximum over
        # the sentences' pieces where the turn has several sentences, else the whole turn's
        total: dict[int, list[float]] = {}
        count: dict[int, int] = {}
        best: dict[int, list[float]] = {}
        for row, index in enumerate(owner):
            if for_sentiment[row]:
                if index not in total:
                    total[index], count[index] = list(sent[row]), 1
                else:
                    total[index] = [a + b for a, b in zip(total[index], sent[row], strict=True)]
                    count[index] += 1
            if for_intents[row]:
                if index not in best:
                    best[index] = list(intents[row])
                else:
                    best[index] = [
                        max(a, b) for a, b in zip(best[index], intents[row], strict=True)
                    ]
        out: list[TextScores] = []
        for index in range(len(texts)):
            if index not in best:
                out.append(TextScores((0.0, 1.0, 0.0), dict.fromkeys(self.intent_names, 0.0)))
                continue
            s = [v / count[index] for v in total[index]]
            probs = (float(s[0]), float(s[1]), float(s[2]))
            named = dict(zip(self.intent_names, map(float, best[index]), strict=True))
            out.append(TextScores(probs, named))
        return out

    def _forward(self, inputs: list[str]) -> tuple[list[list[float]], list[list[float]]]:
        """Sentiment and intent probabilities of each row, in order. Rows run in groups of
        similar length, each padded to its own longest row: a turn of 30 tokens and its two
        sentences of 15 cost 30 + 2 x 15 padded tokens instead of 3 x 30. A row's scores do
        not depend on its group (the backends are batch-invariant, and padding is masked)."""
        encoded = self._tokenizer(inputs, truncation=True, max_length=MAX_TOKENS)["input_ids"]
        pad = self._tokenizer.pad_token_id or 0
        sent: list[list[float]] = [[]] * len(inputs)
        intents: list[list[float]] = [[]] * len(inputs)
        for group in _length_groups([len(ids) for ids in encoded]):
            width = max(len(encoded[row]) for row in group)
            ids = np.full((len(group), width), pad, dtype=np.int64)
            mask = np.zeros((len(group), width), dtype=np.int64)
            for i, row in enumerate(group):
                ids[i, : len(encoded[row])] = encoded[row]
                mask[i, : len(encoded[row])] = 1
            with torch.inference_mode():
                if self._onnx is not None:
                    s_np, i_np = self._onnx(ids, mask)
                    sent_logits, intent_logits = torch.from_numpy(s_np), torch.from_numpy(i_np)
                else:
                    sent_logits, intent_logits = self._model(
                        torch.from_numpy(ids), torch.from_numpy(mask)
                    )
                group_sent = torch.softmax(sent_logits.float(), dim=-1).tolist()
                group_intents = torch.sigmoid(intent_logits.float()).tolist()
            for i, row in enumerate(group):
                sent[row], intents[row] = group_sent[i], group_intents[i]
        return sent, intents

    def threshold(self, intent: str) -> float:
        return self.thresholds.get(intent, 0.5)

    def raised(self, intents: Mapping[str, float]) -> dict[str, float]:
        """The intents of ``intents`` at or above their threshold, in the order given."""
        return {name: p for name, p in intents.items() if p >= self.threshold(name)}
