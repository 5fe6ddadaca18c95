"""The seed's recurrent cells written from their equations, as Keras 3 cells.

Each cell is a ``keras.layers.Layer`` with ``state_size``/``output_size`` and
``call(inputs, states) -> (output, new_states)``, so ``keras.layers.RNN`` runs its time loop in
the graph (a ``tf.while_loop``), masks padding, and lets the cell be stacked
(``RNN([cell, cell])``) or wrapped in ``Bidirectional``. Every cell is registered for
serialization, which ``Bidirectional`` needs to clone its backward layer from the config.

The seed writes a gate as ``W [a_{t-1}; x_t] + b``. The cells keep that layout literally: one
``kernel`` of shape ``(units + input_dim, blocks * units)`` whose rows are ``[state; input]``
and whose columns hold every gate and the candidate side by side, so a step computes all of
them with one matmul. Only the full GRU needs a second one, because its candidate sees the
state through the relevance gate computed in the same step. The state rows start orthogonal
and the input rows Glorot-uniform, as in Keras' own cells.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import keras
import numpy as np
from keras import ops

_PACKAGE = "pipeline.rnn"


def _single_state(states: Any) -> Any:
    """``keras.layers.RNN`` hands a one-state cell a list, a bare caller may pass the tensor."""
    return states[0] if isinstance(states, (list, tuple)) else states


def _like(states: Any, new_state: Any) -> Any:
    """Return the new state in the structure the caller used (list in, list out)."""
    return [new_state] if isinstance(states, (list, tuple)) else new_state


class _FusedCell(keras.layers.Layer):
    """Common weights and config: the stacked ``[state; input]`` kernel and its bias."""

    # Column blocks of width ``units`` in the fused kernel (gates plus candidate).
    blocks = 1

    def __init__(
        self,
        units: int,
        *,
        activation: Any = "tanh",
        use_bias: bool = True,
        kernel_initializer: Any = "glorot_uniform",
        recurrent_initializer: Any = "orthogonal",
        bias_initializer: Any = "zeros",
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        if units <= 0:
            raise ValueError(f"units must be positive, got {units}")
        self.units = units
        self.activation = keras.activations.get(activation)
        self.use_bias = use_bias
        self.kernel_initializer = keras.initializers.get(kernel_initializer)
        self.recurrent_initializer = keras.initializers.get(recurrent_initializer)
        self.bias_initializer = keras.initializers.get(bias_initializer)
        self.state_size = units
        self.output_size = units

    def build(self, input_shape: Sequence[int | None]) -> None:
        input_dim = input_shape[-1]
        width = self.blocks * self.units

        def stacked(shape: Sequence[int], dtype: Any = None) -> Any:
            recurrent = self.recurrent_initializer((self.units, width), dtype=dtype)
            return ops.concatenate(
                [recurrent, self.kernel_initializer((input_dim, width), dtype=dtype)], axis=0
            )

        self.kernel = self.add_weight(
            name="kernel", shape=(self.units + input_dim, width), initializer=stacked
        )
        self.bias = None
        if self.use_bias:
            self.bias = self.add_weight(name="bias", shape=(width,), initializer=self._initial_bias)

    def _initial_bias(self, shape: Sequence[int], dtype: Any = None) -> Any:
        return self.bias_initializer(shape, dtype=dtype)

    def _fused(self, state: Any, inputs: Any) -> Any:
        """``W [state; x] + b`` for every block at once."""
        z = ops.matmul(ops.concatenate([state, inputs], axis=-1), self.kernel)
        return z if self.bias is None else z + self.bias

    def get_config(self) -> dict[str, Any]:
        return {
            **super().get_config(),
            "units": self.units,
            "activation": keras.activations.serialize(self.activation),
            "use_bias": self.use_bias,
            "kernel_initializer": keras.initializers.serialize(self.kernel_initializer),
            "recurrent_initializer": keras.initializers.serialize(self.recurrent_initializer),
            "bias_initializer": keras.initializers.serialize(self.bias_initializer),
        }


@keras.saving.register_keras_serializable(package=_PACKAGE)
class BasicRNNCell(_FusedCell):
    """The seed's basic RNN: ``a_t = g(W_a [a_{t-1}; x_t] + b_a)``, ``y_t = g_y(W_ya a_t + b_y)``.

    Keras' ``SimpleRNNCell`` has no output layer, so its output is the state. Here
    ``output_units`` adds the seed's ``W_ya`` projection inside the cell: the RNN then emits
    ``y_t`` while the state stays ``a_t``, which a stacked cell above consumes as its input.
    ``activation`` is ``g``, ``output_activation`` is ``g_y``; ``use_bias`` drops both biases,
    as the seed's linear worked example needs.
    """

    def __init__(
        self,
        units: int,
        *,
        output_units: int | None = None,
        output_activation: Any = "linear",
        **kwargs: Any,
    ) -> None:
        super().__init__(units, **kwargs)
        self.output_units = output_units
        self.output_activation = keras.activations.get(output_activation)
        if output_units is not None:
            self.output_size = output_units

    def build(self, input_shape: Sequence[int | None]) -> None:
        super().build(input_shape)
        if self.output_units is None:
            return
        self.output_kernel = self.add_weight(
            name="output_kernel",
            shape=(self.units, self.output_units),
            initializer=self.kernel_initializer,
        )
        self.output_bias = None
        if self.use_bias:
            self.output_bias = self.add_weight(
                name="output_bias", shape=(self.output_units,), initializer=self.bias_initializer
            )

    def call(self, inputs: Any, states: Any) -> tuple[Any, Any]:
        state = self.activation(self._fused(_single_state(states), inputs))
        if self.output_units is None:
            return state, _like(states, state)
        y = ops.matmul(state, self.output_kernel)
        if self.output_bias is not None:
            y = y + self.output_bias
        return self.output_activation(y), _like(states, state)

    def get_config(self) -> dict[str, Any]:
        return {
            **super().get_config(),
            "output_units": self.output_units,
            "output_activation": keras.activations.serialize(self.output_activation),
        }


@keras.saving.register_keras_serializable(package=_PACKAGE)
class SimplifiedGRUCell(_FusedCell):
    """The seed's GRU without relevance gate; kernel column blocks are ``[Γu, c~]``.

    ``c~ = g(W_c [c_{t-1}; x_t] + b_c)``, ``Γu = σ(W_u [c_{t-1}; x_t] + b_u)``,
    ``c_t = Γu * c~ + (1 - Γu) * c_{t-1}``. A closed update gate (Γu ≈ 0) copies the memory
    forward unchanged, which is what lets the cell carry information across long gaps.
    ``activation`` is ``g`` (tanh), ``gate_activation`` is ``σ``.
    """

    blocks = 2

    def __init__(self, units: int, *, gate_activation: Any = "sigmoid", **kwargs: Any) -> None:
        super().__init__(units, **kwargs)
        self.gate_activation = keras.activations.get(gate_activation)

    def call(self, inputs: Any, states: Any) -> tuple[Any, Any]:
        previous = _single_state(states)
        update_z, candidate_z = ops.split(self._fused(previous, inputs), 2, axis=-1)
        update = self.gate_activation(update_z)
        memory = update * self.activation(candidate_z) + (1.0 - update) * previous
        return memory, _like(states, memory)

    def get_config(self) -> dict[str, Any]:
        return {
            **super().get_config(),
            "gate_activation": keras.activations.serialize(self.gate_activation),
        }


@keras.saving.register_keras_serializable(package=_PACKAGE)
class GRUCell(_FusedCell):
    """The seed's full GRU; kernel column blocks are ``[Γu, Γr, c~]``.

    ``Γu = σ(W_u [c_{t-1}; x_t] + b_u)``, ``Γr = σ(W_r [c_{t-1}; x_t] + b_r)``,
    ``c_t = Γu * c~ + (1 - Γu) * c_{t-1}``, ``a_t = c_t``, and the candidate is

    * ``reset_after=False`` (the seed): ``c~ = tanh(W_c [Γr * c_{t-1}; x_t] + b_c)``;
    * ``reset_after=True`` (Keras' default, the cuDNN form):
      ``c~ = tanh(W_cx x_t + b_c + Γr * (W_cc c_{t-1} + b_rc))``, the relevance gate applied
      after the recurrent matmul, with its own recurrent bias ``b_rc`` (``recurrent_bias``).

    Mapping to ``keras.layers.GRU`` (kernel ``W``, recurrent_kernel ``U``, columns ``[z, r, h]``;
    ``h_t = z * h_{t-1} + (1 - z) * h~``): Keras' ``z`` is the probability of *keeping* the
    old state, so ``z = 1 - Γu``. Since ``1 - σ(x) = σ(-x)``, Γu uses the negated ``z``
    weights and bias: ``kernel = [[-U_z, U_r, U_h], [-W_z, W_r, W_h]]`` (state rows first).
    Keras' ``reset_after=True`` bias has two rows, input ``b_i`` and recurrent ``b_r``; the
    two rows only add up in ``z`` and ``r``, so ``bias = [-(b_iz + b_rz), b_ir + b_rr, b_ih]``
    and ``recurrent_bias = b_rh``. With ``reset_after=False`` Keras has one bias ``b`` and
    ``bias = [-b_z, b_r, b_h]``. :func:`gru_weights_from_keras` does this; the equality is exact
    for any gate activation with ``σ(-x) = 1 - σ(x)`` (sigmoid, hard_sigmoid).
    """

    blocks = 3

    def __init__(
        self,
        units: int,
        *,
        gate_activation: Any = "sigmoid",
        reset_after: bool = False,
        **kwargs: Any,
    ) -> None:
        super().__init__(units, **kwargs)
        self.gate_activation = keras.activations.get(gate_activation)
        self.reset_after = reset_after

    def build(self, input_shape: Sequence[int | None]) -> None:
        super().build(input_shape)
        self.recurrent_bias = None
        if self.reset_after and self.use_bias:
            self.recurrent_bias = self.add_weight(
                name="recurrent_bias", shape=(self.units,), initializer=self.bias_initializer
            )

    def call(self, inputs: Any, states: Any) -> tuple[Any, Any]:
        previous = _single_state(states)
        units = self.units
        if self.reset_after:
            # Both matmuls cover all three blocks; the relevance gate then scales the
            # candidate's recurrent part.
            from_state = ops.matmul(previous, self.kernel[:units])
            from_input = ops.matmul(inputs, self.kernel[units:])
            if self.bias is not None:
                from_input = from_input + self.bias
            update, relevance = ops.split(
                self.gate_activation(from_input[:, : 2 * units] + from_state[:, : 2 * units]),
                2,
                axis=-1,
            )
            recurrent = from_state[:, 2 * units :]
            if self.recurrent_bias is not None:
                recurrent = recurrent + self.recurrent_bias
            candidate_z = from_input[:, 2 * units :] + relevance * recurrent
        else:
            gates_z = ops.matmul(
                ops.concatenate([previous, inputs], axis=-1), self.kernel[:, : 2 * units]
            )
            if self.bias is not None:
                gates_z = gates_z + self.bias[: 2 * units]
            update, relevance = ops.split(self.gate_activation(gates_z), 2, axis=-1)
            candidate_z = ops.matmul(
                ops.concatenate([relevance * previous, inputs], axis=-1),
                self.kernel[:, 2 * units :],
            )
            if self.bias is not None:
                candidate_z = candidate_z + self.bias[2 * units :]
        memory = update * self.activation(candidate_z) + (1.0 - update) * previous
        return memory, _like(states, memory)

    def get_config(self) -> dict[str, Any]:
        return {
            **super().get_config(),
            "gate_activation": keras.activations.serialize(self.gate_activation),
            "reset_after": self.reset_after,
        }


@keras.saving.register_keras_serializable(package=_PACKAGE)
class LSTMCell(_FusedCell):
    """The seed's LSTM; kernel column blocks are ``[Γu, Γf, c~, Γo]``, state ``[a_t, c_t]``.

    ``c~ = g(W_c [a_{t-1}; x_t] + b_c)``, ``c_t = Γu * c~ + Γf * c_{t-1}``,
    ``a_t = Γo * h(c_t)`` with gates ``σ(W [a_{t-1}; x_t] + b)``. The block order and the
    state order equal Keras' LSTM (``[i, f, c, o]``, ``[h, c]``), so Keras weights map by
    stacking ``[recurrent_kernel; kernel]`` (:func:`lstm_weights_from_keras`).

    ``peephole=True`` adds Gers & Schmidhuber's diagonal peepholes (``peephole_kernel``, rows
    ``[u, f, o]``): the update and forget gates also see ``c_{t-1}``, the output gate sees the
    fresh ``c_t``, so gates can time on the memory itself. ``forget_bias`` (default 1.0) starts
    the forget gate mostly open so gradients flow through ``c`` early in training.
    ``candidate_activation`` is ``g``, ``activation`` is ``h``, ``gate_activation`` is ``σ``;
    the seed's counting example needs ``g`` and ``h`` linear.
    """

    blocks = 4

    def __init__(
        self,
        units: int,
        *,
        candidate_activation: Any = "tanh",
        gate_activation: Any = "sigmoid",
        peephole: bool = False,
        forget_bias: float = 1.0,
        peephole_initializer: Any = "zeros",
        **kwargs: Any,
    ) -> None:
        super().__init__(units, **kwargs)
        self.candidate_activation = keras.activations.get(candidate_activation)
        self.gate_activation = keras.activations.get(gate_activation)
        self.peephole = peephole
        self.forget_bias = forget_bias
        self.peephole_initializer = keras.initializers.get(peephole_initializer)
        self.state_size = [units, units]

    def build(self, input_shape: Sequence[int | None]) -> None:
        super().build(input_shape)
        self.peephole_kernel = None
        if self.peephole:
            self.peephole_kernel = self.add_weight(
                name="peephole_kernel", shape=(3, self.units), initializer=self.peephole_initializer
            )

    def _initial_bias(self, shape: Sequence[int], dtype: Any = None) -> Any:
        units = self.units
        return ops.concatenate(
            [
                self.bias_initializer((units,), dtype=dtype),
                ops.full((units,), self.forget_bias, dtype=dtype),
                self.bias_initializer((2 * units,), dtype=dtype),
            ]
        )

    def call(self, inputs: Any, states: Sequence[Any]) -> tuple[Any, list[Any]]:
        previous_output, previous_memory = states
        update_z, forget_z, candidate_z, output_z = ops.split(
            self._fused(previous_output, inputs), 4, axis=-1
        )
        if self.peephole_kernel is not None:
            update_z = update_z + self.peephole_kernel[0] * previous_memory
            forget_z = forget_z + self.peephole_kernel[1] * previous_memory
        memory = (
            self.gate_activation(update_z) * self.candidate_activation(candidate_z)
            + self.gate_activation(forget_z) * previous_memory
        )
        if self.peephole_kernel is not None:
            output_z = output_z + self.peephole_kernel[2] * memory
        output = self.gate_activation(output_z) * self.activation(memory)
        return output, [output, memory]

    def get_config(self) -> dict[str, Any]:
        return {
            **super().get_config(),
            "candidate_activation": keras.activations.serialize(self.candidate_activation),
            "gate_activation": keras.activations.serialize(self.gate_activation),
            "peephole": self.peephole,
            "forget_bias": self.forget_bias,
            "peephole_initializer": keras.initializers.serialize(self.peephole_initializer),
        }


def gru_weights_from_keras(weights: Sequence[np.ndarray]) -> list[np.ndarray]:
    """Weights of a Keras GRU (``layer.get_weights()``) for :class:`GRUCell`'s ``set_weights``.

    The target cell needs the same ``units``, ``use_bias`` and ``reset_after`` as the Keras
    layer (a two-row Keras bias means ``reset_after=True``). :class:`GRUCell`'s docstring
    derives the mapping.
    """
    kernel, recurrent_kernel, *bias = (np.asarray(w) for w in weights)
    units = recurrent_kernel.shape[0]
    # Γu = 1 - z = σ(-z's preactivation): negate the z block of every weight.
    sign = np.ones(3 * units, dtype=kernel.dtype)
    sign[:units] = -1.0
    mapped = [np.concatenate([recurrent_kernel, kernel], axis=0) * sign]
    if not bias:
        return mapped
    (keras_bias,) = bias
    if keras_bias.ndim == 1:
        return [*mapped, keras_bias * sign]
    input_bias, recurrent_bias = keras_bias
    gate_bias = input_bias.copy()
    gate_bias[: 2 * units] += recurrent_bias[: 2 * units]
    return [*mapped, gate_bias * sign, recurrent_bias[2 * units :]]


def lstm_weights_from_keras(weights: Sequence[np.ndarray]) -> list[np.ndarray]:
    """Weights of a Keras LSTM for a non-peephole :class:`LSTMCell`'s ``set_weights``."""
    kernel, recurrent_kernel, *bias = (np.asarray(w) for w in weights)
    return [np.concatenate([recurrent_kernel, kernel], axis=0), *bias]
