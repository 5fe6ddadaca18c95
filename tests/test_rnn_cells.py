"""The seed's recurrent cells against Keras' built-ins, NumPy references and worked examples."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from pipeline.rnn import (
    KINDS,
    BasicRNNCell,
    DeepRNN,
    GRUCell,
    LSTMCell,
    SimplifiedGRUCell,
    gru_weights_from_keras,
    lstm_weights_from_keras,
    make_cell,
    make_rnn,
)

BATCH, TIME, FEATURES, UNITS = 3, 7, 5, 4


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(0)


@pytest.fixture
def x(rng) -> np.ndarray:
    return rng.normal(size=(BATCH, TIME, FEATURES)).astype("float32")


def sigmoid(z: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-z))


def run(cell: keras.layers.Layer, x: np.ndarray, initial_state=None) -> list[np.ndarray]:
    """Sequence outputs followed by the final states."""
    layer = keras.layers.RNN(cell, return_sequences=True, return_state=True)
    return [np.asarray(t) for t in layer(x, initial_state=initial_state)]


def randomize(layer: keras.layers.Layer, rng: np.random.Generator, scale: float = 0.5) -> None:
    """Random biases too, so the tests see whether they are mapped (Keras starts them at 0)."""
    layer.set_weights([scale * rng.normal(size=w.shape) for w in layer.get_weights()])


def built(cell: keras.layers.Layer, input_dim: int) -> keras.layers.Layer:
    cell.build((None, input_dim))
    return cell


@pytest.mark.parametrize("reset_after", [True, False])
def test_gru_equals_keras_gru(x, rng, reset_after):
    """Keras: z = σ(x W_z + h U_z + b_z), h_t = z * h_{t-1} + (1 - z) * h~, columns [z, r, h].

    The seed: c_t = Γu * c~ + (1 - Γu) * c_{t-1}, so Γu = 1 - z = σ(-(x W_z + h U_z + b_z)):
    the update block takes Keras' z weights and biases negated, r and h map as they are, the
    state rows ([U]) go above the input rows ([W]). reset_after=True (Keras' default) applies
    Γr after the recurrent matmul, with Keras' recurrent h bias as ``recurrent_bias``; the
    input and recurrent biases of z and r add up into one bias.
    """
    reference = keras.layers.GRU(
        UNITS, return_sequences=True, return_state=True, reset_after=reset_after
    )
    reference(x)
    randomize(reference, rng)
    cell = built(GRUCell(UNITS, reset_after=reset_after), FEATURES)
    cell.set_weights(gru_weights_from_keras(reference.get_weights()))

    expected = [np.asarray(t) for t in reference(x)]
    actual = run(cell, x)
    assert [a.shape for a in actual] == [(BATCH, TIME, UNITS), (BATCH, UNITS)]
    for got, want in zip(actual, expected, strict=True):
        np.testing.assert_allclose(got, want, atol=1e-5)


def test_lstm_equals_keras_lstm(x, rng):
    """Keras' LSTM already uses the seed's convention: columns [i, f, c, o] are [Γu, Γf, c~, Γo]
    with c_t = f * c_{t-1} + i * c~, states [h, c] = [a, c]; only the state rows ([U]) are
    stacked above the input rows ([W])."""
    reference = keras.layers.LSTM(UNITS, return_sequences=True, return_state=True)
    reference(x)
    randomize(reference, rng)
    cell = built(LSTMCell(UNITS), FEATURES)
    cell.set_weights(lstm_weights_from_keras(reference.get_weights()))

    expected = [np.asarray(t) for t in reference(x)]
    actual = run(cell, x)
    assert [a.shape for a in actual] == [(BATCH, TIME, UNITS), (BATCH, UNITS), (BATCH, UNITS)]
    for got, want in zip(actual, expected, strict=True):
        np.testing.assert_allclose(got, want, atol=1e-5)


def test_lstm_forget_bias_initialization():
    cell = built(LSTMCell(UNITS, forget_bias=2.0), FEATURES)
    np.testing.assert_array_equal(
        np.asarray(cell.bias), np.r_[np.zeros(UNITS), np.full(UNITS, 2.0), np.zeros(2 * UNITS)]
    )


def test_linear_rnn_worked_example():
    """Linear RNN, 2 inputs, 2 hidden, 2 outputs, every weight 1, no bias, a_0 = 0."""
    cell = BasicRNNCell(
        2,
        output_units=2,
        activation="linear",
        use_bias=False,
        kernel_initializer="ones",
        recurrent_initializer="ones",
    )
    cell = built(cell, 2)
    state = np.zeros((1, 2), "float32")
    hidden, outputs = [], []
    for x_t in ([1, 1], [1, 1], [2, 2]):
        y, state = cell(np.array([x_t], "float32"), state)
        hidden.append(np.asarray(state)[0].tolist())
        outputs.append(np.asarray(y)[0].tolist())
    assert hidden == [[2, 2], [6, 6], [16, 16]]
    assert outputs == [[4, 4], [12, 12], [32, 32]]

    sequence_outputs, final_state = run(cell, np.array([[[1, 1], [1, 1], [2, 2]]], "float32"))
    assert sequence_outputs[0].tolist() == outputs and final_state[0].tolist() == [16, 16]


def test_lstm_counting_worked_example():
    """One LSTM unit, linear g and h: x1 is the cell input, x2 opens the input gate and keeps
    the forget gate open, x3 opens the output gate; the bias is the constant input 1."""
    cell = built(LSTMCell(1, candidate_activation="linear", activation="linear"), 3)
    kernel = np.zeros((1 + 3, 4))  # rows [a_{t-1}; x1; x2; x3], columns [Γu, Γf, c~, Γo]
    kernel[1, 2] = 1.0
    kernel[2, 0] = kernel[2, 1] = 100.0
    kernel[3, 3] = 100.0
    cell.set_weights([kernel, np.array([-10.0, 10.0, 0.0, -10.0])])

    states = [np.zeros((1, 1), "float32")] * 2
    memory, outputs = [], []
    for x_t in ([3, 1, 0], [4, 1, 0], [2, 0, 0], [1, 0, 1]):
        y, states = cell(np.array([x_t], "float32"), states)
        memory.append(float(states[1][0, 0]))
        outputs.append(float(y[0, 0]))
    np.testing.assert_allclose(memory, [3, 7, 7, 7], atol=1e-3)
    np.testing.assert_allclose(outputs, [0, 0, 0, 7], atol=1e-3)


def test_simplified_gru_closed_update_gate_carries_state(x, rng):
    cell = built(SimplifiedGRUCell(UNITS), FEATURES)
    kernel, _ = cell.get_weights()
    bias = np.r_[np.full(UNITS, -100.0), rng.normal(size=UNITS)]  # Γu ≈ σ(-100) = 0
    cell.set_weights([0.5 * rng.normal(size=kernel.shape), bias])
    initial = rng.normal(size=(BATCH, UNITS)).astype("float32")

    outputs, final = run(cell, x, initial_state=initial)
    np.testing.assert_allclose(outputs, np.repeat(initial[:, None], TIME, axis=1), atol=1e-6)
    np.testing.assert_allclose(final, initial, atol=1e-6)


def test_simplified_gru_equals_numpy(x, rng):
    cell = built(SimplifiedGRUCell(UNITS), FEATURES)
    randomize(cell, rng)
    kernel, bias = cell.get_weights()
    w_u, w_c = kernel[:, :UNITS], kernel[:, UNITS:]
    b_u, b_c = bias[:UNITS], bias[UNITS:]

    c = np.zeros((BATCH, UNITS))
    expected = []
    for t in range(TIME):
        joined = np.concatenate([c, x[:, t]], axis=1)
        candidate = np.tanh(joined @ w_c + b_c)
        update = sigmoid(joined @ w_u + b_u)
        c = update * candidate + (1 - update) * c
        expected.append(c)

    outputs, final = run(cell, x)
    np.testing.assert_allclose(outputs, np.stack(expected, axis=1), atol=1e-5)
    np.testing.assert_allclose(final, c, atol=1e-5)


def test_peephole_lstm_equals_numpy(x, rng):
    cell = built(LSTMCell(UNITS, peephole=True), FEATURES)
    randomize(cell, rng)
    kernel, bias, peephole = cell.get_weights()
    w_u, w_f, w_c, w_o = np.split(kernel, 4, axis=1)
    b_u, b_f, b_c, b_o = np.split(bias, 4)
    p_u, p_f, p_o = peephole

    a = c = np.zeros((BATCH, UNITS))
    expected = []
    for t in range(TIME):
        joined = np.concatenate([a, x[:, t]], axis=1)
        update = sigmoid(joined @ w_u + b_u + p_u * c)
        forget = sigmoid(joined @ w_f + b_f + p_f * c)
        c = update * np.tanh(joined @ w_c + b_c) + forget * c
        a = sigmoid(joined @ w_o + b_o + p_o * c) * np.tanh(c)
        expected.append(a)

    outputs, final_a, final_c = run(cell, x)
    np.testing.assert_allclose(outputs, np.stack(expected, axis=1), atol=1e-5)
    np.testing.assert_allclose(final_a, a, atol=1e-5)
    np.testing.assert_allclose(final_c, c, atol=1e-5)


# The basic cell with a projection checks that stacking feeds y_t, not a_t, to the next cell.
CELL_KWARGS = {"rnn": {"output_units": 3}}


@pytest.mark.parametrize("kind", KINDS)
def test_cell_in_bidirectional_and_stack(kind, x):
    kwargs = CELL_KWARGS.get(kind, {})
    out = make_cell(kind, UNITS, **kwargs).output_size

    bidirectional = keras.layers.Bidirectional(
        keras.layers.RNN(make_cell(kind, UNITS, **kwargs), return_sequences=True)
    )
    assert bidirectional(x).shape == (BATCH, TIME, 2 * out)

    stack = keras.layers.RNN(
        [make_cell(kind, UNITS, **kwargs), make_cell(kind, UNITS, **kwargs)], return_state=True
    )
    output, *states = stack(x)
    assert output.shape == (BATCH, out)
    assert len(states) == 2


@pytest.mark.parametrize("kind", KINDS)
def test_cell_config_round_trip(kind, x):
    cell = make_cell(kind, UNITS, **CELL_KWARGS.get(kind, {}))
    layer = keras.layers.RNN(cell, return_sequences=True)
    expected = np.asarray(layer(x))

    clone = type(cell).from_config(cell.get_config())
    assert clone.get_config() == cell.get_config()
    cloned_layer = keras.layers.RNN.from_config(layer.get_config())
    cloned_layer.build(x.shape)
    cloned_layer.set_weights(layer.get_weights())
    np.testing.assert_allclose(np.asarray(cloned_layer(x)), expected, atol=1e-6)


@pytest.mark.parametrize("kind", ["gru", "keras_lstm"])
def test_deep_bidirectional_rnn_masks_padding_and_saves(kind, tmp_path):
    tokens = keras.Input((None,), dtype="int32")
    embedded = keras.layers.Embedding(10, FEATURES, mask_zero=True)(tokens)
    encoded = make_rnn(kind, UNITS, bidirectional=True, num_layers=2, return_sequences=True)(
        embedded
    )
    model = keras.Model(tokens, keras.layers.GlobalAveragePooling1D()(encoded))
    assert isinstance(model.layers[2], DeepRNN)

    padded = np.array([[1, 2, 3, 0, 0], [4, 5, 6, 7, 8]])
    pooled = np.asarray(model(padded))
    assert pooled.shape == (2, 2 * UNITS)
    # Padding is invisible to both directions and to the masked pooling on top.
    np.testing.assert_allclose(pooled[0], np.asarray(model(padded[:1, :3]))[0], atol=1e-6)

    model.save(tmp_path / "model.keras")
    restored = keras.saving.load_model(tmp_path / "model.keras")
    np.testing.assert_allclose(np.asarray(restored(padded)), pooled, atol=1e-6)


def test_make_rnn_shapes_and_errors(x):
    output, forward, backward = make_rnn(
        "gru_simple", UNITS, bidirectional=True, return_state=True
    )(x)
    assert (output.shape, forward.shape, backward.shape) == (
        (BATCH, 2 * UNITS),
        (BATCH, UNITS),
        (BATCH, UNITS),
    )
    assert make_rnn("lstm_peephole", UNITS, num_layers=3)(x).shape == (BATCH, UNITS)
    with pytest.raises(ValueError, match="unknown RNN kind 'transformer'"):
        make_rnn("transformer", UNITS)
    with pytest.raises(ValueError, match="return_state needs num_layers=1"):
        make_rnn("gru", UNITS, num_layers=2, return_state=True)


def subtraction_data() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Every pair a >= b of 4-bit numbers, bits least significant first, as borrows propagate."""
    a, b = np.array([(a, b) for a in range(16) for b in range(a + 1)]).T
    positions = np.arange(4)

    def bits(n: np.ndarray) -> np.ndarray:
        return (n[:, None] >> positions) & 1

    x = np.stack([bits(a), bits(b)], axis=-1).astype("float32")
    return x, bits(a - b)[..., None].astype("float32"), a - b


@pytest.mark.parametrize(
    ("kind", "kwargs"),
    [("rnn", {"output_units": 1, "output_activation": "sigmoid"}), ("gru", {})],
)
def test_binary_subtraction_learned_exactly(kind, kwargs):
    x, y, difference = subtraction_data()
    keras.utils.set_random_seed(0)
    layers = [keras.Input((4, 2)), make_rnn(kind, 16, return_sequences=True, **kwargs)]
    if kind != "rnn":
        layers.append(keras.layers.Dense(1, activation="sigmoid"))
    model = keras.Sequential(layers)
    model.compile(keras.optimizers.Adam(0.02), "binary_crossentropy", jit_compile=False)
    # An epoch is 50 full-batch steps: per-epoch overhead in fit dwarfs a step of this model.
    steps = tf.data.Dataset.from_tensors((x, y)).repeat(50)
    for _ in range(40):
        model.fit(steps, epochs=1, verbose=0, shuffle=False)
        predicted = (np.asarray(model.predict_on_batch(x))[..., 0] > 0.5).astype(int)
        if (predicted == y[..., 0]).all():
            break
    assert (predicted == y[..., 0]).mean() == 1.0
    assert ((predicted << np.arange(4)).sum(axis=1) == difference).mean() == 1.0
