"""The Jordan network's cell: the previous *output*, not the hidden state, is fed back.

Elman (:class:`pipeline.rnn.cells.BasicRNNCell`) and Jordan (1986) differ only in what the
recurrence carries from one step to the next:

* Elman:  ``a_t = tanh(W_aa a_{t-1} + W_ax x_t + b_a)``, ``y_t = g_y(W_ya a_t + b_y)``,
  state ``a_t``;
* Jordan: ``a_t = tanh(W_aa y_{t-1} + W_ax x_t + b_a)``, ``y_t = g_y(W_ya a_t + b_y)``,
  state ``y_t``.

So a Jordan network remembers the past only through what it already said: with ``g_y`` a
softmax, its memory is its own last predictive distribution, a bottleneck of ``output_units``
non-negative numbers summing to one, and ``W_aa`` is ``(output_units, units)``. With ``g_y``
linear the feedback is ``W_aa (W_ya a_{t-1} + b_y)``, an Elman cell whose recurrent matrix is
factored through the output (rank at most ``output_units``).

The weights are separate matrices named as in the equations (``recurrent_kernel`` is
``W_aa``, ``kernel`` is ``W_ax``, ``output_kernel`` is ``W_ya``); ``set_weights`` takes them in
the order ``[W_ax, W_aa, b_a, W_ya, b_y]`` (without the biases if ``use_bias`` is False).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import keras
from keras import ops

from pipeline.rnn.cells import BasicRNNCell, _like, _single_state


@keras.saving.register_keras_serializable(package="pipeline.rnn")
class JordanCell(BasicRNNCell):
    """A Jordan step for ``keras.layers.RNN``: emits ``y_t`` and carries ``y_t`` as its state.

    It keeps :class:`BasicRNNCell`'s options and config (``activation`` is the tanh of
    ``a_t``, ``output_activation`` is ``g_y``) and replaces its weights and step, since the
    fed-back vector is ``output_units`` wide rather than ``units``.
    """

    def __init__(
        self, units: int, output_units: int, *, output_activation: Any = "softmax", **kwargs: Any
    ) -> None:
        if output_units <= 0:
            raise ValueError(f"output_units must be positive, got {output_units}")
        super().__init__(
            units, output_units=output_units, output_activation=output_activation, **kwargs
        )
        self.state_size = output_units

    def build(self, input_shape: Sequence[int | None]) -> None:
        def weight(name: str, shape: tuple[int, ...], initializer: Any) -> Any:
            return self.add_weight(name=name, shape=shape, initializer=initializer)

        self.kernel = weight("kernel", (input_shape[-1], self.units), self.kernel_initializer)
        self.recurrent_kernel = weight(
            "recurrent_kernel", (self.output_units, self.units), self.recurrent_initializer
        )
        self.bias = weight("bias", (self.units,), self.bias_initializer) if self.use_bias else None
        self.output_kernel = weight(
            "output_kernel", (self.units, self.output_units), self.kernel_initializer
        )
        self.output_bias = None
        if self.use_bias:
            self.output_bias = weight("output_bias", (self.output_units,), self.bias_initializer)

    @property
    def input_kernel(self) -> Any:
        """``W_x``: here the whole ``kernel``, as the fed-back rows have their own weight."""
        return self.kernel

    @property
    def state_kernel(self) -> Any:
        """The fed-back rows: ``recurrent_kernel``, on ``y_{t-1}``."""
        return self.recurrent_kernel

    def step(self, projected: Any, states: Any, state_kernel: Any = None) -> tuple[Any, Any]:
        hidden = self.activation(projected + self._from_state(_single_state(states), state_kernel))
        y = ops.matmul(hidden, self.output_kernel)
        output = self.output_activation(y if self.output_bias is None else y + self.output_bias)
        return output, _like(states, output)
