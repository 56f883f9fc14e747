"""ONNX Runtime for the text classifier: the trained model, faster than PyTorch on CPU.

The trained PyTorch model is exported once per weights file (keyed by its SHA-256) into a
local cache, then run by ONNX Runtime with one thread. Two precisions, chosen by the CPU
(``default_precision``):

- ``w8`` (the default on a CPU with an int8 dot-product instruction): the encoder's matrix
  weights stored as int8 in blocks of 128 values (``MatMulNBits``, 8 bits, symmetric),
  multiplied in int8 with each *token row's* activations quantised on its own (accuracy
  level 4). A quarter of the bytes to stream per utterance, which is what an utterance waits
  for on a busy machine (monitor/priority.py), and still batch-invariant: no scale is shared
  between rows, and each row runs on its own (``OnnxRunner.row_by_row``: with blocks of 128
  ONNX Runtime 1.32 reads a row differently in a batch of several), so an utterance's scores
  do not depend on which other calls share its batch (tests/test_scoring_determinism.py).
  This is what PyTorch's dynamic int8 quantisation got wrong: one activation scale per batch.
  Quality is measured beside fp32 in eval/results.json.
- ``fp32`` (the default on any other CPU): the exported model as trained; outputs match
  PyTorch to ~1e-5, and read the same on both CPUs measured. Without VNNI, AMX or Arm's dot
  product, ONNX Runtime's int8 products are slower than fp32 (issue 10, twenty-second round,
  an AMD EPYC with AVX2 alone: the model alone 8.0 against 7.0 ms on 12 tokens, 27.7 against
  18.5 ms on 48; scoring p95 at the demo's load 30.5 ms with int8, 21.8 ms in fp32,
  bench/results.json), and they read differently from the int8 products of a CPU that has
  one.

``CALLMON_SCORER_PRECISION`` (``w8`` or ``fp32``) overrides the choice.

If ``onnx``/``onnxruntime`` (or ``onnx-ir`` for w8) are missing or a step fails, the loader
falls back (w8 -> fp32 -> PyTorch) and logs why.
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
PRECISIONS = ("w8", "fp32")
PRECISION_ENV = "CALLMON_SCORER_PRECISION"
# /proc/cpuinfo flags of an int8 dot-product instruction, which ONNX Runtime's int8 kernels
# need to beat fp32: x86's AVX-512 VNNI, AVX-VNNI and AMX, Arm's dot product ("Features")
INT8_DOT_FLAGS = ("avx512_vnni", "avx_vnni", "amx_int8", "asimddp")
W8_BITS = 8
# values per quantisation block along the input dimension: 128 since issue 10's twenty-fifth
# round, 32 before. On an AMD EPYC with AVX-512 VNNI the model alone took 4.2 / 6.9 / 10.0 ms on
# 12 / 24 / 40 tokens against 4.7 / 7.9 / 12.0 with blocks of 32 (p50, interleaved; 64: 4.2 /
# 7.1 / 10.7). With blocks of 128 ONNX Runtime 1.32 reads a row differently alone than in a
# batch of several (intent probabilities moved by up to 0.02; 32 and 64 do not), so the int8
# model runs every row on its own (OnnxRunner.row_by_row): invariant by construction.
W8_BLOCK = 128
W8_ACCURACY_LEVEL = 4  # int8 x int8 products; activations quantised per row and block


def cache_dir() -> Path:
    return Path(os.environ.get("CALLMON_CACHE", REPO_ROOT / "var" / "cache"))


def cpu_flags(cpuinfo: Path = Path("/proc/cpuinfo")) -> set[str]:
    """The CPU's feature flags (x86 "flags", Arm "Features"); empty where there is no cpuinfo."""
    try:
        text = cpuinfo.read_text()
    except OSError:
        return set()
    flags: set[str] = set()
    for line in text.splitlines():
        key, _, value = line.partition(":")
        if key.strip() in ("flags", "Features"):
            flags.update(value.split())
    return flags


def default_precision(cpuinfo: Path = Path("/proc/cpuinfo")) -> str:
    """``$CALLMON_SCORER_PRECISION`` if set, else ``w8`` on a CPU with one of INT8_DOT_FLAGS
    and ``fp32`` on any other (or where the flags cannot be read). Raises ValueError naming the
    variable for a value that is not a precision."""
    return precision_reason(cpuinfo)[0]


def precision_reason(cpuinfo: Path = Path("/proc/cpuinfo")) -> tuple[str, str]:
    """``default_precision``'s choice and why, in words (`models list` shows both)."""
    chosen = os.environ.get(PRECISION_ENV, "").strip()
    if chosen:
        if chosen not in PRECISIONS:
            raise ValueError(
                f"{PRECISION_ENV}={chosen!r} is not a scorer precision; choose one of "
                f"{', '.join(PRECISIONS)} (or unset it to choose by the CPU)"
            )
        return chosen, f"${PRECISION_ENV}={chosen}"
    found = sorted(cpu_flags(cpuinfo) & set(INT8_DOT_FLAGS))
    if found:
        return "w8", f"this CPU has an int8 dot product ({', '.join(found)})"
    return "fp32", "this CPU has no int8 dot product, where int8 is slower"


def _digest(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()[:16]


class OnnxRunner:
    """Runs (input_ids, attention_mask) -> (sentiment logits, intent logits)."""

    def __init__(self, session: Any, path: Path, precision: str) -> None:
        self.session = session
        self.path = path
        self.precision = precision
        # W8_BLOCK: each int8 row runs alone, unpadded, so its scores never depend on its batch
        # (the price: a long turn's windows and sentences run one by one, models/README.md)
        self.row_by_row = precision == "w8"

    def __call__(self, input_ids: np.ndarray, attention_mask: np.ndarray) -> tuple[Any, Any]:
        """Rows are right-padded (``attention_mask`` is 1 for a row's tokens, then 0)."""
        if not self.row_by_row or len(input_ids) == 1:
            return self._run(input_ids, attention_mask)
        rows = [
            self._run(input_ids[i : i + 1, :n], attention_mask[i : i + 1, :n])
            for i, n in enumerate(attention_mask.sum(axis=1).tolist())
        ]
        return (
            np.concatenate([sent for sent, _ in rows]),
            np.concatenate([intents for _, intents in rows]),
        )

    def _run(self, input_ids: np.ndarray, attention_mask: np.ndarray) -> tuple[Any, Any]:
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


def _quantize_weights(src: Path, out: Path) -> None:
    """``src`` with every constant-weight MatMul as int8 blocks (see the module docstring)."""
    import onnx
    from onnxruntime.quantization.matmul_nbits_quantizer import MatMulNBitsQuantizer

    quantizer_log = logging.getLogger("onnxruntime.quantization.matmul_nbits_quantizer")
    level = quantizer_log.level
    quantizer_log.setLevel(logging.WARNING)  # it logs a line per node at INFO
    try:
        quantizer = MatMulNBitsQuantizer(
            onnx.load(str(src)),
            bits=W8_BITS,
            block_size=W8_BLOCK,
            is_symmetric=True,
            accuracy_level=W8_ACCURACY_LEVEL,
        )
        quantizer.process()
    finally:
        quantizer_log.setLevel(level)
    tmp = out.with_suffix(f".{os.getpid()}.tmp")
    quantizer.model.save_model_to_file(str(tmp), False)
    tmp.replace(out)


def load_runner(
    model: nn.Module, tokenizer: Any, weights: Path, precision: str = "w8"
) -> OnnxRunner | None:
    """An ONNX Runtime session for ``model``, exporting it on first use; None to fall back.

    ``precision`` is ``w8`` or ``fp32``; if w8 cannot be built, fp32 is tried (logged).
    """
    if precision not in PRECISIONS:
        raise ValueError(f"unknown ONNX precision {precision!r}; choose one of {PRECISIONS}")
    try:
        import onnx  # noqa: F401  (the exporter needs it)
        import onnxruntime as ort
    except ImportError as exc:
        log.info("text classifier on PyTorch: %s", exc)
        return None
    stem = f"text-classifier-{_digest(weights)}"
    fp32 = cache_dir() / f"{stem}-fp32.onnx"
    try:
        if not fp32.exists():
            fp32.parent.mkdir(parents=True, exist_ok=True)
            _export(model, tokenizer, fp32)
    except Exception as exc:  # an export problem must not stop the monitor
        log.warning("text classifier falls back to PyTorch: ONNX export failed: %s", exc)
        return None
    path = fp32
    if precision == "w8":
        # the quantiser ships with ONNX Runtime: a new version may write a different file
        w8 = cache_dir() / f"{stem}-w8b{W8_BLOCK}-ort{ort.__version__}.onnx"
        try:
            if not w8.exists():
                _quantize_weights(fp32, w8)
            path = w8
        except Exception as exc:  # e.g. onnx-ir missing: fp32 is slower, not wrong
            log.warning("text classifier runs fp32 ONNX: int8 weights failed: %s", exc)
            precision = "fp32"
    try:
        options = ort.SessionOptions()
        options.intra_op_num_threads = 1
        options.inter_op_num_threads = 1
        session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    except Exception as exc:  # a runtime problem must not stop the monitor
        log.warning("text classifier falls back to PyTorch: ONNX Runtime failed: %s", exc)
        return None
    log.info("text classifier on ONNX Runtime, %s (%s)", precision, path.name)
    return OnnxRunner(session, path, precision)
