"""An utterance's scores must not depend on which other calls share its batch.

The scoring service batches utterances of all live calls into one forward pass; a call's
alerts would otherwise change with what *other* callers happen to say at the same moment,
and a demo or a QA replay of several calls would not be repeatable.
"""

from __future__ import annotations

from typing import Any

import pytest

from monitor.scoring.classifier import TextClassifier

TEXTS = [
    "i want to speak to your manager right now",
    "hi i'm moving house and i'd like to move my broadband to the new address",
    "that was a really long wait",
    "thanks so much you've been really helpful",
    "this is the third time i've called about this",
    "you're all useless",
    "could you confirm the first line of your address",
    "i'm going to report you to the ombudsman",
]


def test_scores_alone_equal_scores_in_any_batch(text_classifier: Any) -> None:
    _batch_invariant(text_classifier)


@pytest.mark.parametrize("precision", ["w8", "fp32"])
def test_both_onnx_precisions_are_batch_invariant(precision: str) -> None:
    """The CPU chooses the precision (onnx_backend.default_precision): both must hold."""
    pytest.importorskip("onnxruntime")
    classifier = TextClassifier.load(precision=precision)
    assert classifier.backend == f"onnxruntime-{precision}"
    _batch_invariant(classifier)


def _batch_invariant(text_classifier: Any) -> None:
    alone = [text_classifier.predict([t])[0] for t in TEXTS]
    for batch in (TEXTS, TEXTS[::-1], TEXTS[2:5] + TEXTS[:1]):
        for text, got in zip(batch, text_classifier.predict(batch), strict=True):
            want = alone[TEXTS.index(text)]
            assert (
                max(abs(a - b) for a, b in zip(got.probabilities, want.probabilities, strict=True))
                < 1e-4
            )
            assert max(abs(got.intents[k] - want.intents[k]) for k in want.intents) < 1e-4, text


def test_int8_weights_are_quantised_in_the_configured_blocks() -> None:
    """The w8 file the service runs holds every encoder matrix as 8-bit blocks of W8_BLOCK
    values (the twenty-fifth round's speed-up), and its name says so, so that a cache
    quantised with another block size is never picked up in its place."""
    pytest.importorskip("onnxruntime")
    import onnx

    from monitor.scoring.onnx_backend import W8_BITS, W8_BLOCK

    classifier = TextClassifier.load(precision="w8")
    runner = classifier._onnx
    assert runner is not None and runner.precision == "w8"
    assert f"-w8b{W8_BLOCK}-" in runner.path.name
    graph = onnx.load(str(runner.path), load_external_data=False).graph
    blocks = [
        {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}
        for node in graph.node
        if node.op_type == "MatMulNBits"
    ]
    # six layers x (query, key, value, attention output, intermediate, output)
    assert len(blocks) == 36
    assert {(b["bits"], b["block_size"]) for b in blocks} == {(W8_BITS, W8_BLOCK)}
