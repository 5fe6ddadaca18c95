"""Pick a recurrent cell or layer by name, so models can switch cells with a command-line flag."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import partial
from typing import Any

import keras

from pipeline.rnn.cells import BasicRNNCell, FusedCell, GRUCell, LSTMCell, SimplifiedGRUCell

# Keras' built-in layers, which take the fused cuDNN kernel on a GPU.
_KERAS_LAYERS: dict[str, Callable[..., keras.layers.Layer]] = {
    "keras_gru": keras.layers.GRU,
    "keras_lstm": keras.layers.LSTM,
}

_CELLS: dict[str, Callable[..., keras.layers.Layer]] = {
    "rnn": BasicRNNCell,
    "gru_simple": SimplifiedGRUCell,
    "gru": GRUCell,
    "lstm": LSTMCell,
    "lstm_peephole": partial(LSTMCell, peephole=True),
    "keras_gru": keras.layers.GRUCell,
    "keras_lstm": keras.layers.LSTMCell,
}

KINDS: tuple[str, ...] = tuple(_CELLS)

# The seed cell whose equations a Keras kind runs (tests/test_rnn_cells.py maps the weights).
_SEED_EQUIVALENT: dict[str, Callable[..., keras.layers.Layer]] = {
    "keras_gru": partial(GRUCell, reset_after=True),
    "keras_lstm": LSTMCell,
}


def _check_kind(kind: str) -> None:
    if kind not in _CELLS:
        raise ValueError(f"unknown RNN kind {kind!r}; choose one of {', '.join(KINDS)}")


def make_cell(kind: str, units: int, **kwargs: Any) -> keras.layers.Layer:
    """A fresh cell of ``kind`` (one of :data:`KINDS`); ``kwargs`` go to its constructor."""
    _check_kind(kind)
    return _CELLS[kind](units, **kwargs)


def make_step_cell(kind: str, units: int, **kwargs: Any) -> FusedCell:
    """A seed cell of ``kind`` for a hand-written time loop, e.g. an attention decoder's.

    Such a loop wants :meth:`~pipeline.rnn.cells.FusedCell.step` and the input's share
    ``W_x x_t + b`` apart, to apply ``W_x`` outside the loop. A Keras kind gets the seed cell
    that equals it (Keras' GRU is :class:`GRUCell` with ``reset_after=True``): one step at a
    time, Keras' fused kernel has nothing to fuse.
    """
    _check_kind(kind)
    return _SEED_EQUIVALENT.get(kind, _CELLS[kind])(units, **kwargs)


def make_rnn(
    kind: str,
    units: int,
    *,
    bidirectional: bool = False,
    num_layers: int = 1,
    return_sequences: bool = False,
    return_state: bool = False,
    merge_mode: str = "concat",
    name: str | None = None,
    **kwargs: Any,
) -> keras.layers.Layer:
    """A recurrent layer of ``kind``; ``kwargs`` go to every cell (or Keras layer).

    Layers are stacked layer by layer (:class:`DeepRNN`): in a deep bidirectional RNN each
    layer reads both directions of the layer below, as in the usual deep BRNN, and Keras
    kinds keep their fused cuDNN path in every layer. A stack returns only its top output, so
    ``return_state`` needs ``num_layers=1``; for the states of every layer build
    ``keras.layers.RNN([make_cell(...), ...], return_state=True)`` instead. ``name`` goes to
    the outermost layer returned.
    """
    _check_kind(kind)
    if num_layers < 1:
        raise ValueError(f"num_layers must be at least 1, got {num_layers}")
    if return_state and num_layers > 1:
        raise ValueError(
            "return_state needs num_layers=1; for a deep RNN's states use "
            "keras.layers.RNN([make_cell(...), ...], return_state=True)"
        )
    layer_name = name if num_layers == 1 else None
    layers = []
    for depth in range(num_layers):
        options = {
            "return_sequences": return_sequences or depth < num_layers - 1,
            "return_state": return_state,
            "name": None if bidirectional else layer_name,
        }
        if kind in _KERAS_LAYERS:
            layer = _KERAS_LAYERS[kind](units, **options, **kwargs)
        else:
            layer = keras.layers.RNN(make_cell(kind, units, **kwargs), **options)
        if bidirectional:
            layer = keras.layers.Bidirectional(layer, merge_mode=merge_mode, name=layer_name)
        layers.append(layer)
    return layers[0] if num_layers == 1 else DeepRNN(layers, name=name)


@keras.saving.register_keras_serializable(package="pipeline.rnn")
class DeepRNN(keras.layers.Layer):
    """Recurrent layers applied one above the other, each seeing the padding mask.

    ``keras.Sequential`` would run the layers too, but drops the mask on its output, and a
    sequence-returning encoder must hand the mask on to attention.
    """

    def __init__(self, layers: Sequence[keras.layers.Layer], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.rnn_layers = list(layers)
        self.supports_masking = True

    def build(self, input_shape: tuple[int | None, ...]) -> None:
        for layer in self.rnn_layers:
            layer.build(input_shape)
            input_shape = layer.compute_output_shape(input_shape)

    def call(self, inputs: Any, mask: Any = None, training: bool | None = None) -> Any:
        for layer in self.rnn_layers:
            inputs = layer(inputs, mask=mask, training=training)
        return inputs

    def compute_mask(self, inputs: Any, mask: Any = None) -> Any:
        return self.rnn_layers[-1].compute_mask(inputs, mask)

    def compute_output_shape(self, input_shape: tuple[int | None, ...]) -> Any:
        for layer in self.rnn_layers:
            input_shape = layer.compute_output_shape(input_shape)
        return input_shape

    def get_config(self) -> dict[str, Any]:
        layers = [keras.saving.serialize_keras_object(layer) for layer in self.rnn_layers]
        return {**super().get_config(), "layers": layers}

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> DeepRNN:
        layers = [keras.saving.deserialize_keras_object(layer) for layer in config.pop("layers")]
        return cls(layers, **config)
