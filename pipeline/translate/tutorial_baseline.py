"""A straightforward Keras baseline in the style of TensorFlow's "NMT with attention" tutorial.

Only ``make bench-translate`` (``pipeline.translate.bench``) uses it. It follows the
tutorial's code: an ``Encoder`` model (embedding + ``keras.layers.GRU``, here bidirectional
to match our model's size), the tutorial's ``BahdanauAttention`` layer (``Dense`` W1, W2,
V), a ``Decoder`` model called once per target position, and a ``tf.function`` train step
whose Python loop over the target positions is unrolled into the graph. As in the tutorial,
every sentence is padded to the longest allowed length (``max_len``) so the step traces
once, the loss is masked, and attention runs over the padding too. Sizes (embedding, units,
attention units) and the optimizer (Adam with global-norm clipping) are the same as our
model's.
"""

from __future__ import annotations

import keras
import tensorflow as tf

from pipeline.config import TranslateConfig
from pipeline.text import BOS_ID, PAD_ID


class Encoder(keras.Model):
    def __init__(self, vocab_size: int, embedding_dim: int, enc_units: int) -> None:
        super().__init__()
        self.embedding = keras.layers.Embedding(vocab_size, embedding_dim)
        self.gru = keras.layers.Bidirectional(
            keras.layers.GRU(
                enc_units,
                return_sequences=True,
                return_state=True,
                recurrent_initializer="glorot_uniform",
            )
        )
        self.bridge = keras.layers.Dense(enc_units, activation="tanh")

    def call(self, x: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
        x = self.embedding(x)
        output, forward, backward = self.gru(x)  # no mask, as in the tutorial
        return output, self.bridge(tf.concat([forward, backward], axis=-1))


class BahdanauAttention(keras.layers.Layer):
    def __init__(self, units: int) -> None:
        super().__init__()
        self.W1 = keras.layers.Dense(units)
        self.W2 = keras.layers.Dense(units)
        self.V = keras.layers.Dense(1)

    def call(self, query: tf.Tensor, values: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
        query_with_time_axis = tf.expand_dims(query, 1)
        score = self.V(tf.nn.tanh(self.W1(query_with_time_axis) + self.W2(values)))
        attention_weights = tf.nn.softmax(score, axis=1)
        context_vector = tf.reduce_sum(attention_weights * values, axis=1)
        return context_vector, attention_weights


class Decoder(keras.Model):
    def __init__(
        self, vocab_size: int, embedding_dim: int, dec_units: int, attention_units: int
    ) -> None:
        super().__init__()
        self.embedding = keras.layers.Embedding(vocab_size, embedding_dim)
        self.gru = keras.layers.GRU(
            dec_units,
            return_sequences=True,
            return_state=True,
            recurrent_initializer="glorot_uniform",
        )
        self.fc = keras.layers.Dense(vocab_size)
        self.attention = BahdanauAttention(attention_units)

    def call(
        self, x: tf.Tensor, hidden: tf.Tensor, enc_output: tf.Tensor
    ) -> tuple[tf.Tensor, tf.Tensor, tf.Tensor]:
        context_vector, attention_weights = self.attention(hidden, enc_output)
        x = self.embedding(x)
        x = tf.concat([tf.expand_dims(context_vector, 1), x], axis=-1)
        output, state = self.gru(x, initial_state=hidden)
        output = tf.reshape(output, (-1, output.shape[2]))
        return self.fc(output), state, attention_weights


loss_object = keras.losses.SparseCategoricalCrossentropy(from_logits=True, reduction="none")


def loss_function(real: tf.Tensor, pred: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
    """Summed masked loss of one position and its token count (the tutorial's masking)."""
    mask = tf.cast(tf.math.logical_not(tf.math.equal(real, PAD_ID)), tf.float32)
    return tf.reduce_sum(loss_object(real, pred) * mask), tf.reduce_sum(mask)


class TutorialBaseline:
    """The tutorial's encoder, decoder, optimizer and train step, sized from ``config``."""

    def __init__(self, config: TranslateConfig, source_vocab: int, target_vocab: int) -> None:
        self.encoder = Encoder(source_vocab, config.embed_dim, config.units)
        self.decoder = Decoder(target_vocab, config.embed_dim, config.units, config.attention_units)
        self.optimizer = keras.optimizers.Adam(
            config.learning_rate, global_clipnorm=config.clipnorm
        )
        self.max_len = config.max_len
        spec = [tf.TensorSpec([None, config.max_len], tf.int32)] * 2
        self.train_step = tf.function(self._train_step, input_signature=spec)
        self.eval_step = tf.function(self._losses, input_signature=spec)

    def _losses(self, inp: tf.Tensor, targ: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
        enc_output, dec_hidden = self.encoder(inp)
        dec_input = tf.fill([tf.shape(targ)[0], 1], BOS_ID)
        loss, count = 0.0, 0.0
        for t in range(targ.shape[1]):  # unrolled, as in the tutorial
            predictions, dec_hidden, _ = self.decoder(dec_input, dec_hidden, enc_output)
            step_loss, step_count = loss_function(targ[:, t], predictions)
            loss, count = loss + step_loss, count + step_count
            dec_input = tf.expand_dims(targ[:, t], 1)
        return loss, count

    def _train_step(self, inp: tf.Tensor, targ: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
        with tf.GradientTape() as tape:
            loss, count = self._losses(inp, targ)
            mean = loss / tf.maximum(count, 1.0)
        variables = self.encoder.trainable_variables + self.decoder.trainable_variables
        gradients = tape.gradient(mean, variables)
        self.optimizer.apply_gradients(zip(gradients, variables, strict=True))
        return loss, count

    def parameters(self) -> int:
        variables = self.encoder.trainable_variables + self.decoder.trainable_variables
        return sum(int(tf.size(v)) for v in variables)


def padded_pairs(pairs: tf.data.Dataset, max_len: int) -> tf.data.Dataset:
    """(source, target) padded to ``max_len``, the tutorial's ``pad_sequences(padding='post')``."""

    def pad(source: tf.Tensor, target: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
        return (
            tf.pad(source, [[0, max_len - tf.size(source)]]),
            tf.pad(target, [[0, max_len - tf.size(target)]]),
        )

    short = pairs.filter(lambda s, t: tf.maximum(tf.size(s), tf.size(t)) <= max_len)
    return short.map(pad, num_parallel_calls=tf.data.AUTOTUNE)
