"""German -> English (any direction) translation with a Bahdanau-attention RNN translator.

``model`` holds the network (encoder, shared decoder step), ``data`` the input pipeline,
``train`` the training stage, ``saved`` the on-disk format and :func:`load_trained`,
``bench`` a throughput comparison with the tutorial-style Keras model in ``tutorial_baseline``.
Decoding reuses the trained step: ``beam`` (greedy, beam search, scoring), ``codec``
(strings <-> ids in the graph), ``export`` (the SavedModel), ``__main__`` (its CLI,
``python -m pipeline.translate``, with ``heatmap``), ``averaging`` (the mean of the last
checkpoints, which all of them decode) and ``averaging_bleu`` (its dev BLEU by K),
``decoding`` (a trained model over test sets), ``bleu`` (BLEU report) and ``error_analysis``
(search vs model errors).
"""

from pipeline.translate.model import Translator
from pipeline.translate.saved import load_trained

__all__ = ["Translator", "load_trained"]
