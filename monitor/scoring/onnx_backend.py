"""ONNX Runtime for the text classifier: the same fp32 model, about 2.5x faster on CPU.

The trained PyTorch model is exported once per weights file (keyed by its SHA-256) into a
local cache, then run by ONNX Runtime with one thread. Outputs match PyTorch to ~1e-5 and,
being fp32, do not depend on what else is in the batch. If ``onnx``/``onnxruntime`` are
missing or the export fails, the caller falls back to PyTorch (and logs why).
"""

from __future__ import annotations

import hashlib
import logging
import os
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

log = logging.getLogger(__name__)

REPO_ROOT = Path(__file__).resolve().parents[2]


def cache_dir() -> Path:
    return Path(os.environ.get("CALLMON_CACHE", REPO_ROOT / "var" / "cache"))


def _digest(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()[:16]


class OnnxRunner:
    """Runs (input_ids, attention_mask) -> (sentiment logits, intent logits)."""

    def __init__(self, session: Any, path: Path) -> None:
        self.session = session
        self.path = path

    def __call__(self, input_ids: np.ndarray, attention_mask: np.ndarray) -> tuple[Any, Any]:
        sent, intents = self.session.run(
            None,
            {
                "input_ids": input_ids.astype(np.int64, copy=False),
                "attention_mask": attention_mask.astype(np.int64, copy=False),
            },
        )
        return sent, intents


def _export(model: nn.Module, tokenizer: Any, out: Path) -> None:
    sample = tokenizer(["a short sample", "and a second one"], padding=True, return_tensors="pt")
    tmp = out.with_suffix(f".{os.getpid()}.tmp")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # tracer notices about the attention mask branch
        torch.onnx.export(
            model,
            (sample["input_ids"], sample["attention_mask"]),
            str(tmp),
            input_names=["input_ids", "attention_mask"],
            output_names=["sentiment", "intents"],
            dynamic_axes={
                "input_ids": {0: "batch", 1: "tokens"},
                "attention_mask": {0: "batch", 1: "tokens"},
                "sentiment": {0: "batch"},
                "intents": {0: "batch"},
            },
            opset_version=17,
            dynamo=False,
        )
    tmp.replace(out)  # atomic: a concurrent loader never sees half a file


def load_runner(model: nn.Module, tokenizer: Any, weights: Path) -> OnnxRunner | None:
    """An ONNX Runtime session for ``model``, exporting it on first use; None to fall back."""
    try:
        import onnx  # noqa: F401  (the exporter needs it)
        import onnxruntime as ort
    except ImportError as exc:
        log.info("text classifier on PyTorch: %s", exc)
        return None
    out = cache_dir() / f"text-classifier-{_digest(weights)}.onnx"
    try:
        if not out.exists():
            out.parent.mkdir(parents=True, exist_ok=True)
            _export(model, tokenizer, out)
        options = ort.SessionOptions()
        options.intra_op_num_threads = 1
        options.inter_op_num_threads = 1
        session = ort.InferenceSession(str(out), options, providers=["CPUExecutionProvider"])
    except Exception as exc:  # an export or runtime problem must not stop the monitor
        log.warning("text classifier falls back to PyTorch: ONNX export/load failed: %s", exc)
        return None
    return OnnxRunner(session, out)
