"""A recurrent language model, P(w_t | w_<t) = softmax(W h_t + b), with in-graph sampling.

The recurrent part is any cell of ``pipeline.rnn`` (GRU by default), stacked ``layers`` deep.
Training uses a sampled softmax when the vocabulary is large: on a CPU the full 30k-way output
layer costs ten times the recurrence. Evaluation (``test_step``, ``log_probs``) and sampling
always use the full softmax, so perplexities are exact.
"""

from __future__ import annotations

from typing import Any

import keras
import tensorflow as tf

from pipeline.rnn import make_cell
from pipeline.text import BOS_ID, EOS_ID, PAD_ID


class Perplexity(keras.metrics.Mean):
    """exp of the token-weighted mean negative log-likelihood."""

    def result(self) -> tf.Tensor:
        return tf.exp(super().result())


@keras.saving.register_keras_serializable(package="pipeline.lm")
class LanguageModel(keras.Model):
    def __init__(
        self,
        vocab_size: int,
        *,
        embed_dim: int = 128,
        units: int = 256,
        layers: int = 1,
        cell: str = "gru",
        dropout: float = 0.0,
        num_sampled: int = 0,
        cell_options: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.vocab_size = vocab_size
        self.embed_dim = embed_dim
        self.units = units
        self.num_layers = layers
        self.cell_kind = cell
        self.dropout_rate = dropout
        # A sampled softmax with as many negatives as classes is just a noisier full one.
        self.num_sampled = num_sampled if 0 < num_sampled < vocab_size - 1 else 0
        self.embedding = keras.layers.Embedding(vocab_size, embed_dim, name="embedding")
        self.cell_options = dict(cell_options or {})  # to the cell's constructor, e.g. a variant
        cells = [make_cell(cell, units, **self.cell_options) for _ in range(layers)]
        self.rnn = keras.layers.RNN(
            cells[0] if layers == 1 else cells,
            return_sequences=True,
            return_state=True,
            name="rnn",
        )
        self.dropout = keras.layers.Dropout(dropout)
        # Built eagerly so generation and scoring work before the first call.
        self.embedding.build((None, None))
        self.rnn.build((None, None, embed_dim))
        # The output layer as a (vocab, units) matrix, the layout the sampled softmax wants.
        self.output_kernel = self.add_weight(
            name="output_kernel", shape=(vocab_size, units), initializer="glorot_uniform"
        )
        self.output_bias = self.add_weight(
            name="output_bias", shape=(vocab_size,), initializer="zeros"
        )
        self.built = True
        self.nll_tracker = keras.metrics.Mean(name="nll")
        self.perplexity_tracker = Perplexity(name="perplexity")

    @property
    def metrics(self) -> list[keras.metrics.Metric]:
        return [self.nll_tracker, self.perplexity_tracker]

    # --- sequences -------------------------------------------------------------------------

    def hidden(self, inputs: tf.Tensor, training: bool = False) -> tuple[tf.Tensor, list]:
        """Top-layer outputs (batch, time, units) and the final states; PAD steps are skipped."""
        mask = tf.not_equal(inputs, PAD_ID)
        outputs, *states = self.rnn(self.embedding(inputs), mask=mask, training=training)
        return self.dropout(outputs, training=training), states

    def logits(self, hidden: tf.Tensor) -> tf.Tensor:
        return tf.tensordot(hidden, self.output_kernel, [[-1], [1]]) + self.output_bias

    def call(self, inputs: tf.Tensor, training: bool = False) -> tf.Tensor:
        return self.logits(self.hidden(inputs, training=training)[0])

    def log_probs(self, inputs: tf.Tensor, targets: tf.Tensor) -> tf.Tensor:
        """log P(target_t | inputs_<=t) per position, 0 where the target is PAD."""
        logits = self(inputs)
        nll = tf.nn.sparse_softmax_cross_entropy_with_logits(labels=targets, logits=logits)
        return tf.where(tf.equal(targets, PAD_ID), 0.0, -nll)

    def _update_metrics(self, nll_sum: tf.Tensor, count: tf.Tensor) -> dict[str, tf.Tensor]:
        mean = nll_sum / tf.maximum(count, 1.0)
        self.nll_tracker.update_state(mean, sample_weight=count)
        self.perplexity_tracker.update_state(mean, sample_weight=count)
        return {m.name: m.result() for m in self.metrics}

    def train_step(self, data: tuple[tf.Tensor, tf.Tensor, tf.Tensor]) -> dict[str, tf.Tensor]:
        inputs, targets, weights = data
        with tf.GradientTape() as tape:
            hidden, _ = self.hidden(inputs, training=True)
            keep = weights > 0
            hidden, labels = tf.boolean_mask(hidden, keep), tf.boolean_mask(targets, keep)
            if self.num_sampled:
                losses = tf.nn.sampled_softmax_loss(
                    weights=self.output_kernel,
                    biases=self.output_bias,
                    labels=tf.cast(labels[:, None], tf.int64),
                    inputs=hidden,
                    num_sampled=self.num_sampled,
                    num_classes=self.vocab_size,
                )  # the default log-uniform sampler suits frequency-ranked ids
            else:
                losses = tf.nn.sparse_softmax_cross_entropy_with_logits(
                    labels=labels, logits=self.logits(hidden)
                )
            loss = tf.reduce_mean(losses)
        grads = tape.gradient(loss, self.trainable_variables)
        self.optimizer.apply_gradients(zip(grads, self.trainable_variables, strict=True))
        count = tf.cast(tf.size(losses), tf.float32)
        # With a sampled softmax this "perplexity" is of the sampled problem, a training
        # signal only; val_perplexity is the real one.
        return self._update_metrics(tf.reduce_sum(losses), count)

    def test_step(self, data: tuple[tf.Tensor, tf.Tensor, tf.Tensor]) -> dict[str, tf.Tensor]:
        inputs, targets, weights = data
        log_probs = self.log_probs(inputs, targets)
        return self._update_metrics(-tf.reduce_sum(log_probs), tf.reduce_sum(weights))

    # --- generation ------------------------------------------------------------------------

    def generate(self, start: tf.Tensor, temperature: tf.Tensor, max_len: int) -> tf.Tensor:
        """Continue each row of ``start`` (BOS + prefix ids) until EOS or ``max_len`` tokens.

        Each step samples from softmax(logits / temperature) and feeds the sample back;
        temperature 0 takes the argmax (greedy). PAD and BOS are never produced. Returns
        (batch, <= max_len) ids with PAD after each row's EOS. The loop is a graph loop
        that stops as soon as every row has ended, after at least one step: an empty batch
        has "ended" at once, and stacking zero steps would fail.
        """
        hidden, states = self.hidden(start)
        states = self._as_cell_states(states)
        logits = self.logits(hidden[:, -1])
        batch = tf.shape(start)[0]
        banned = tf.scatter_nd(
            [[PAD_ID], [BOS_ID]], [-1e9, -1e9], shape=[self.vocab_size]
        )  # additive mask
        finished = tf.zeros([batch], tf.bool)
        tokens = tf.TensorArray(tf.int32, size=0, dynamic_size=True)
        step = tf.constant(0)
        while step < max_len and (step == 0 or not tf.reduce_all(finished)):
            logits = logits + banned
            greedy = tf.argmax(logits, axis=-1, output_type=tf.int32)
            scaled = logits / tf.maximum(temperature, 1e-6)
            drawn = tf.cast(tf.random.categorical(scaled, 1)[:, 0], tf.int32)
            token = tf.where(temperature > 0, drawn, greedy)
            token = tf.where(finished, PAD_ID, token)
            tokens = tokens.write(step, token)
            finished = finished | tf.equal(token, EOS_ID)
            output, states = self.rnn.cell(tf.gather(self.embedding.embeddings, token), states)
            states = self._as_cell_states(states)
            logits = self.logits(output)
            step += 1
        return tf.transpose(tokens.stack())

    def _as_cell_states(self, states: Any) -> Any:
        """The nesting the stacked cell expects; the RNN layer and the cell return others."""
        return tf.nest.pack_sequence_as(self.rnn.cell.state_size, tf.nest.flatten(states))

    def get_config(self) -> dict[str, Any]:
        return {
            **super().get_config(),
            "vocab_size": self.vocab_size,
            "embed_dim": self.embed_dim,
            "units": self.units,
            "layers": self.num_layers,
            "cell": self.cell_kind,
            "dropout": self.dropout_rate,
            "num_sampled": self.num_sampled,
            "cell_options": dict(self.cell_options),
        }
