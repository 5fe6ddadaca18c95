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

A step splits ``W [a_{t-1}; x_t] + b`` into ``W_a a_{t-1}`` and the input's share
``W_x x_t + b`` (:meth:`FusedCell.project_inputs`), and :meth:`FusedCell.step` takes the
latter ready-made: a caller that knows every step's input ahead (a decoder's target
embeddings, an attention context that mixes fixed vectors) applies ``W_x`` once outside the
time loop and runs only ``step`` inside it; ``call`` is the two in a row.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import keras
import numpy as np
from keras import ops

_PACKAGE = "pipeline.rnn"
ALL = slice(None)  # every column block of a kernel


def _single_state(states: Any) -> Any:
    """``keras.layers.RNN`` hands a one-state cell a list, a bare caller may pass the tensor."""
    return states[0] if isinstance(states, (list, tuple)) else states


def _like(states: Any, new_state: Any) -> Any:
    """Return the new state in the structure the caller used (list in, list out)."""
    return [new_state] if isinstance(states, (list, tuple)) else new_state


class FusedCell(keras.layers.Layer):
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

    @property
    def input_kernel(self) -> Any:
        """``W_x``, the kernel's input rows."""
        return self.kernel[self.units :]

    def project_inputs(self, inputs: Any) -> Any:
        """``W_x x_t + b`` for every block: the input's share, independent of the state."""
        z = ops.matmul(inputs, self.input_kernel)
        return z if self.bias is None else z + self.bias

    @property
    def state_kernel(self) -> Any:
        """``W_a``, the kernel's state rows."""
        return self.kernel[: self.units]

    def _from_state(self, state: Any, state_kernel: Any = None, blocks: slice = ALL) -> Any:
        """``W_a a_{t-1}`` for the kernel's column ``blocks``."""
        kernel = self.state_kernel if state_kernel is None else state_kernel
        return ops.matmul(state, kernel if blocks == ALL else kernel[:, blocks])

    def step(self, projected: Any, states: Any, state_kernel: Any = None) -> tuple[Any, Any]:
        """(output, new states) from ``projected`` = :meth:`project_inputs` of this step's input.

        ``state_kernel`` is :attr:`state_kernel` read once before a caller's time loop: sliced
        from the variable inside the loop, it would be copied at every step, and its gradient
        would be the whole kernel's at every step.
        """
        raise NotImplementedError

    def call(self, inputs: Any, states: Any) -> tuple[Any, Any]:
        return self.step(self.project_inputs(inputs), states)

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
class BasicRNNCell(FusedCell):
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

    def step(self, projected: Any, states: Any, state_kernel: Any = None) -> tuple[Any, Any]:
        state = self.activation(projected + self._from_state(_single_state(states), state_kernel))
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
class SimplifiedGRUCell(FusedCell):
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

    def step(self, projected: Any, states: Any, state_kernel: Any = None) -> tuple[Any, Any]:
        previous = _single_state(states)
        from_state = self._from_state(previous, state_kernel)
        update_z, candidate_z = ops.split(projected + from_state, 2, axis=-1)
        update = self.gate_activation(update_z)
        memory = update * self.activation(candidate_z) + (1.0 - update) * previous
        return memory, _like(states, memory)

    def get_config(self) -> dict[str, Any]:
        return {
            **super().get_config(),
            "gate_activation": keras.activations.serialize(self.gate_activation),
        }


@keras.saving.register_keras_serializable(package=_PACKAGE)
class GRUCell(FusedCell):
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

    def step(self, projected: Any, states: Any, state_kernel: Any = None) -> tuple[Any, Any]:
        previous = _single_state(states)
        gates = slice(None, 2 * self.units)
        candidate = slice(2 * self.units, None)
        if self.reset_after:  # one matmul: the candidate's recurrent part needs no Γr first
            from_state = self._from_state(previous, state_kernel)
            gates_z = projected[:, gates] + from_state[:, gates]
        else:
            gates_z = projected[:, gates] + self._from_state(previous, state_kernel, gates)
        update, relevance = ops.split(self.gate_activation(gates_z), 2, axis=-1)
        if self.reset_after:  # the relevance gate scales the candidate's recurrent part
            recurrent = from_state[:, candidate]
            if self.recurrent_bias is not None:
                recurrent = recurrent + self.recurrent_bias
            candidate_z = projected[:, candidate] + relevance * recurrent
        else:
            reset = relevance * previous
            candidate_z = projected[:, candidate] + self._from_state(reset, state_kernel, candidate)
        memory = update * self.activation(candidate_z) + (1.0 - update) * previous
        return memory, _like(states, memory)

    def get_config(self) -> dict[str, Any]:
        return {
            **super().get_config(),
            "gate_activation": keras.activations.serialize(self.gate_activation),
            "reset_after": self.reset_after,
        }


@dataclass(frozen=True)
class LSTMVariant:
    """What one variant of Greff et al. (2015) changes in the vanilla (peephole) LSTM."""

    input_gate: bool = True  # False: Γu = 1 (NIG)
    forget_gate: bool = True  # False: Γf = 1 (NFG)
    output_gate: bool = True  # False: Γo = 1 (NOG)
    input_activation: bool = True  # False: g is the identity (NIAF)
    output_activation: bool = True  # False: h is the identity (NOAF)
    peepholes: bool = True  # False: no peepholes even with peephole=True (NP)
    coupled: bool = False  # True: Γf = 1 - Γu, no forget-gate weights (CIFG)
    gate_recurrence: bool = False  # True: the gates also see the previous step's gates (FGR)


# Greff et al.'s names, lowercased; the vanilla LSTM is theirs when the cell has peepholes.
LSTM_VARIANTS: dict[str, LSTMVariant] = {
    "vanilla": LSTMVariant(),
    "nig": LSTMVariant(input_gate=False),
    "nfg": LSTMVariant(forget_gate=False),
    "nog": LSTMVariant(output_gate=False),
    "niaf": LSTMVariant(input_activation=False),
    "noaf": LSTMVariant(output_activation=False),
    "np": LSTMVariant(peepholes=False),
    "cifg": LSTMVariant(coupled=True),
    "fgr": LSTMVariant(gate_recurrence=True),
}


@keras.saving.register_keras_serializable(package=_PACKAGE)
class LSTMCell(FusedCell):
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

    ``variant`` is one of Greff et al.'s (2015, "LSTM: A Search Space Odyssey") changes to
    the vanilla LSTM, which is this cell with ``peephole=True`` (:data:`LSTM_VARIANTS`):

    * ``vanilla``: the equations above, unchanged (the default);
    * ``nig``, ``nfg``, ``nog`` (no input / forget / output gate): ``Γu = 1``, ``Γf = 1`` or
      ``Γo = 1``; the gate's kernel block, bias and peephole are gone;
    * ``niaf`` (no input activation): ``c~ = W_c [a_{t-1}; x_t] + b_c``, g the identity;
    * ``noaf`` (no output activation): ``a_t = Γo * c_t``, h the identity;
    * ``np`` (no peepholes): the gates see no ``c``, whatever ``peephole`` says;
    * ``cifg`` (coupled input and forget gate): ``Γf = 1 - Γu``, no forget block; as
      ``1 - σ(z) = σ(-z)``, the update bias starts at ``-forget_bias`` so ``Γf`` starts as
      open as in the vanilla cell;
    * ``fgr`` (full gate recurrence): every gate also sees the previous step's gates,
      ``Γ_t = σ(... + R [Γu; Γf; Γo]_{t-1})`` with one ``(3 units, 3 units)``
      ``gate_recurrent_kernel`` (Greff's nine ``R_{..}`` matrices side by side); the state
      becomes ``[a_t, c_t, [Γu; Γf; Γo]_t]``, the gates starting at 0.

    A dropped block shrinks the kernel, so a variant trains no weight it does not use.
    """

    def __init__(
        self,
        units: int,
        *,
        candidate_activation: Any = "tanh",
        gate_activation: Any = "sigmoid",
        peephole: bool = False,
        forget_bias: float = 1.0,
        peephole_initializer: Any = "zeros",
        variant: str = "vanilla",
        **kwargs: Any,
    ) -> None:
        super().__init__(units, **kwargs)
        if variant not in LSTM_VARIANTS:
            raise ValueError(
                f"unknown LSTM variant {variant!r}; choose one of {', '.join(LSTM_VARIANTS)}"
            )
        self.candidate_activation = keras.activations.get(candidate_activation)
        self.gate_activation = keras.activations.get(gate_activation)
        self.peephole = peephole
        self.forget_bias = forget_bias
        self.peephole_initializer = keras.initializers.get(peephole_initializer)
        self.variant = variant
        changes = LSTM_VARIANTS[variant]
        self._changes = changes
        present = {
            "update": changes.input_gate,
            "forget": changes.forget_gate and not changes.coupled,
            "candidate": True,
            "output": changes.output_gate,
        }
        self.block_names = tuple(name for name, kept in present.items() if kept)
        self.blocks = len(self.block_names)
        self.gate_names = tuple(name for name in self.block_names if name != "candidate")
        self.peephole_names = self.gate_names if peephole and changes.peepholes else ()
        self.state_size = [units, units]
        if changes.gate_recurrence:
            self.state_size.append(len(self.gate_names) * units)

    def build(self, input_shape: Sequence[int | None]) -> None:
        super().build(input_shape)
        self.peephole_kernel = None
        if self.peephole_names:
            self.peephole_kernel = self.add_weight(
                name="peephole_kernel",
                shape=(len(self.peephole_names), self.units),
                initializer=self.peephole_initializer,
            )
        self.gate_recurrent_kernel = None
        if self._changes.gate_recurrence:
            width = len(self.gate_names) * self.units
            self.gate_recurrent_kernel = self.add_weight(
                name="gate_recurrent_kernel",
                shape=(width, width),
                initializer=self.recurrent_initializer,
            )

    def _initial_bias(self, shape: Sequence[int], dtype: Any = None) -> Any:
        units = self.units
        starts = {"forget": self.forget_bias}
        if self._changes.coupled:
            starts["update"] = -self.forget_bias
        return ops.concatenate(
            [
                ops.full((units,), starts[name], dtype=dtype)
                if name in starts
                else self.bias_initializer((units,), dtype=dtype)
                for name in self.block_names
            ]
        )

    def _gate(self, name: str, z: dict[str, Any], memory: Any) -> Any:
        """``σ(z + p * memory)`` for a gate the variant has (p its peephole), else 1."""
        if name not in z:
            return 1.0
        if name in self.peephole_names:
            row = self.peephole_names.index(name)
            return self.gate_activation(z[name] + self.peephole_kernel[row] * memory)
        return self.gate_activation(z[name])

    def step(
        self, projected: Any, states: Sequence[Any], state_kernel: Any = None
    ) -> tuple[Any, list[Any]]:
        previous_output, previous_memory, *previous_gates = states
        from_state = self._from_state(previous_output, state_kernel)
        parts = ops.split(projected + from_state, self.blocks, axis=-1)
        z = dict(zip(self.block_names, parts, strict=True))
        if self.gate_recurrent_kernel is not None:
            from_gates = ops.matmul(previous_gates[0], self.gate_recurrent_kernel)
            for name, part in zip(
                self.gate_names, ops.split(from_gates, len(self.gate_names), axis=-1), strict=True
            ):
                z[name] = z[name] + part
        candidate = z["candidate"]
        if self._changes.input_activation:
            candidate = self.candidate_activation(candidate)
        gates = {"update": self._gate("update", z, previous_memory)}
        gates["forget"] = (
            1.0 - gates["update"]
            if self._changes.coupled
            else self._gate("forget", z, previous_memory)
        )
        memory = gates["update"] * candidate + gates["forget"] * previous_memory
        gates["output"] = self._gate("output", z, memory)
        squashed = self.activation(memory) if self._changes.output_activation else memory
        output = gates["output"] * squashed
        if self.gate_recurrent_kernel is None:
            return output, [output, memory]
        return output, [output, memory, ops.concatenate([gates[n] for n in self.gate_names], -1)]

    def get_config(self) -> dict[str, Any]:
        return {
            **super().get_config(),
            "candidate_activation": keras.activations.serialize(self.candidate_activation),
            "gate_activation": keras.activations.serialize(self.gate_activation),
            "peephole": self.peephole,
            "forget_bias": self.forget_bias,
            "peephole_initializer": keras.initializers.serialize(self.peephole_initializer),
            "variant": self.variant,
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
