"""Text scoring: the trained utterance classifier, keyword cues and the batching service.

Kept empty of imports on purpose: torch/transformers load only when the classifier is used.
"""
