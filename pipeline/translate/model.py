"""The attention translator: a bidirectional RNN encoder and a Bahdanau-attention decoder.

One decoder step, :meth:`Translator.decode_step`, is the computation beam search runs; the
teacher-forced training pass (:meth:`Translator.teacher_forced`) runs the very same
recurrence (:meth:`Translator._recur`) over time in a graph loop (``tf.scan``). Three things
are hoisted out of the loop because they do not depend on the recurrence:

* the target embeddings' share of the cell's pre-activations (``input_gates``, one matmul
  for all time steps);
* the context's linear maps: the cell's context rows and the deep output's context columns
  act on c_t = sum_t' a_{t,t'} h_t', so they are applied to the encoder states h_t' once per
  sentence (``Memory.mapped_values``) and a step only mixes those with its attention weights
  (``mapped_context``):
  S x (gates x H + E) multiply-adds per row instead of 2H x (gates x H + E);
* the output layer: the loop only collects s_t and the attention weights, and the deep
  output and vocabulary projection run once over the non-padded positions, the bulk of the
  FLOPs on a CPU.

Training applies dropout to c_t itself before the deep output, so it rebuilds c_t from the
collected weights after the loop (one batched matmul); :meth:`decode_step` (no dropout)
reads the deep output's share of ``mapped_context`` instead.

Decoder (Bahdanau et al. 2015, with the query the previous state s_{t-1}):
  c_t = attention(s_{t-1}, encoder states),  s_t = cell([emb(y_{t-1}); c_t], s_{t-1}),
  logits_t = W_o (W_d [s_t; c_t; emb(y_{t-1})] + b_d) + b_o  (a low-rank "deep output").

The cell is the seed's cell of the ``cell`` kind (:func:`pipeline.rnn.make_step_cell`), the
encoder's kind, so its gates read as in ``pipeline/rnn/cells.py``: its input rows
``W_x = [W_e; W_c]`` split into the embedding's and the context's, which are the two hoisted
shares above, and the loop runs only the cell's ``step``.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import keras
import tensorflow as tf

from pipeline.rnn import make_rnn, make_step_cell
from pipeline.text import BOS_ID, PAD_ID
from pipeline.translate.attention import BahdanauAttention, mix_per_sentence

State = tuple[tf.Tensor, ...]  # the decoder cell's states, s_t first ((s_t, c_t) for an LSTM)


class Memory(NamedTuple):
    """What the decoder reads of the encoded source, per sentence."""

    values: tf.Tensor  # (N, S, 2H) the encoder states
    keys: tf.Tensor  # (N, S, A) W2 values, the attention's source side
    mapped_values: tf.Tensor  # (N, S, gates*H + E) the states through the context's linear maps


class Translator(keras.Model):
    def __init__(
        self,
        source_vocab_size: int,
        target_vocab_size: int,
        *,
        embed_dim: int = 128,
        units: int = 256,
        attention_units: int = 256,
        cell: str = "keras_gru",
        encoder_layers: int = 1,
        dropout: float = 0.0,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.source_vocab_size = source_vocab_size
        self.target_vocab_size = target_vocab_size
        self.embed_dim = embed_dim
        self.units = units
        self.attention_units = attention_units
        self.cell_kind = cell
        self.encoder_layers = encoder_layers
        self.dropout_rate = dropout

        self.source_embedding = keras.layers.Embedding(
            source_vocab_size, embed_dim, name="source_embedding"
        )
        self.encoder = make_rnn(
            cell,
            units,
            bidirectional=True,
            num_layers=encoder_layers,
            return_sequences=True,
            name="encoder",
        )
        self.decoder_cell = make_step_cell(cell, units, name="decoder_cell")
        self.bridge = [  # one per state of the cell
            keras.layers.Dense(size, activation="tanh", name=f"bridge_{i}")
            for i, size in enumerate(tf.nest.flatten(self.decoder_cell.state_size))
        ]
        self.target_embedding = keras.layers.Embedding(
            target_vocab_size, embed_dim, name="target_embedding"
        )
        self.attention = BahdanauAttention(attention_units, name="attention")
        self.dropout = keras.layers.Dropout(dropout)
        # Linear: a tanh here saturated early in training (Adam moves all ~900 fan-in
        # weights of a unit together, the pre-activations reached ~15) and cut every gradient
        # but the output layer's, leaving a unigram model.
        self.deep_output = keras.layers.Dense(embed_dim, name="deep_output")
        self.output_layer = keras.layers.Dense(target_vocab_size, name="output")

        # Built eagerly, so checkpoints restore into existing variables before any call.
        memory_dim = 2 * units
        self.source_embedding.build((None, None))
        self.encoder.build((None, None, embed_dim))
        for layer in self.bridge:
            layer.build((None, memory_dim))
        self.target_embedding.build((None,))
        self.attention.build(units, memory_dim)
        self.decoder_cell.build((None, embed_dim + memory_dim))
        self.deep_output.build((None, units + memory_dim + embed_dim))
        self.output_layer.build((None, embed_dim))
        self.built = True

    # --- encoder ---------------------------------------------------------------------------

    def encode(
        self, source_ids: tf.Tensor, training: bool = False
    ) -> tuple[Memory, tf.Tensor, State]:
        """(memory, memory_mask, initial decoder state) for int32 ``source_ids`` (N, S).

        The initial state is a learned bridge, tanh(W [fwd_last; bwd_first]), from the final
        states of both encoder directions.
        """
        source_ids = tf.convert_to_tensor(source_ids, tf.int32)
        mask = tf.not_equal(source_ids, PAD_ID)
        embedded = self.dropout(self.source_embedding(source_ids), training=training)
        values = self.encoder(embedded, mask=mask, training=training)
        lengths = tf.reduce_sum(tf.cast(mask, tf.int32), axis=1)
        forward_last = tf.gather(
            values[:, :, : self.units], tf.maximum(lengths - 1, 0), axis=1, batch_dims=1
        )
        backward_first = values[:, 0, self.units :]
        final = tf.concat([forward_last, backward_first], axis=-1)
        state = tuple(layer(final) for layer in self.bridge)
        from_context = self.decoder_cell.input_kernel[self.embed_dim :]
        context_kernels = tf.concat([from_context, self._deep_kernels()[1]], axis=1)
        # tensordot, as for every (N, S, D) x (D, K) product here: a rank-3 tf.matmul runs as a
        # broadcast batch matmul whose kernel gradient is 14x slower on a CPU.
        mapped_values = tf.tensordot(values, context_kernels, 1)
        memory = Memory(values, self.attention.keys(values), mapped_values)
        return memory, mask, state

    # --- the decoder step, shared by training and decoding --------------------------------

    def _deep_kernels(self) -> tuple[tf.Tensor, tf.Tensor, tf.Tensor]:
        """The deep output's kernel split by what it reads: (s_t, c_t, emb(y_{t-1}))."""
        kernel = self.deep_output.kernel
        return kernel[: self.units], kernel[self.units : 3 * self.units], kernel[3 * self.units :]

    @property
    def _gate_width(self) -> int:
        """Columns of the cell's pre-activations: its gates and candidate side by side."""
        return int(self.decoder_cell.kernel.shape[1])

    def _embed_targets(self, tokens: tf.Tensor, training: bool) -> tuple[tf.Tensor, tf.Tensor]:
        """Embeddings of the previous tokens and their share of the cell's pre-activations,
        ``W_e emb(y_{t-1}) + b``."""
        embedded = self.dropout(self.target_embedding(tokens), training=training)
        cell = self.decoder_cell
        from_embedding = cell.input_kernel[: self.embed_dim]
        return embedded, tf.tensordot(embedded, from_embedding, 1) + cell.bias

    def _recur(
        self,
        input_gates: tf.Tensor,
        state: State,
        memory: Memory,
        memory_mask: tf.Tensor,
        sentence: tf.Tensor | None = None,
        state_kernel: tf.Tensor | None = None,
    ) -> tuple[tf.Tensor, tf.Tensor, tf.Tensor, State]:
        """One step of the recurrence: (s_t, the mapped context (R, gates*H + E), attention
        weights, new state). Row r reads sentence ``sentence[r]`` of ``memory`` (row r if
        None); ``state_kernel`` is the cell's W_a, read once before a loop."""
        keys, mask = memory.keys, memory_mask
        if sentence is not None:
            keys, mask = tf.gather(keys, sentence), tf.gather(mask, sentence)
        weights = self.attention.weights_for(state[0], keys, mask)
        mapped_context = mix_per_sentence(weights, memory.mapped_values, sentence)
        projected = input_gates + mapped_context[:, : self._gate_width]
        output, new_state = self.decoder_cell.step(projected, list(state), state_kernel)
        return output, mapped_context, weights, tuple(new_state)

    def _logits(
        self, output: tf.Tensor, context: tf.Tensor, embedded: tf.Tensor, training: bool
    ) -> tf.Tensor:
        features = tf.concat([output, context, embedded], axis=-1)
        features = self.dropout(features, training=training)
        return self.output_layer(self.deep_output(features))

    def decode_step(
        self,
        prev_tokens: tf.Tensor,
        state: State,
        memory: Memory,
        memory_mask: tf.Tensor,
        sentence: tf.Tensor | None = None,
    ) -> tuple[tf.Tensor, State, tf.Tensor]:
        """(logits (R, V), new state, attention (R, S)) after feeding ``prev_tokens`` (R,).

        ``memory`` and ``memory_mask`` hold N sentences; row r belongs to sentence
        ``sentence[r]`` (nondecreasing, as beam search groups hypotheses), or to sentence r if
        None. Inference only: the deep output reads the mapped context, without dropout.
        """
        embedded, input_gates = self._embed_targets(
            tf.convert_to_tensor(prev_tokens, tf.int32), training=False
        )
        output, mapped_context, weights, state = self._recur(
            input_gates, state, memory, memory_mask, sentence
        )
        from_output, _, from_embedding = self._deep_kernels()
        deep = (
            tf.matmul(output, from_output)
            + mapped_context[:, self._gate_width :]
            + tf.matmul(embedded, from_embedding)
            + self.deep_output.bias
        )
        return self.output_layer(deep), state, weights

    # --- teacher forcing -------------------------------------------------------------------

    def run_decoder(
        self,
        target_in: tf.Tensor,
        state: State,
        memory: Memory,
        memory_mask: tf.Tensor,
        training: bool = False,
    ) -> tuple[tf.Tensor, tf.Tensor, tf.Tensor, tf.Tensor]:
        """The decoder over a whole target prefix (N, T) in one graph loop.

        Returns the output-layer inputs: s_t (N, T, H), c_t (N, T, 2H) and emb(y_{t-1})
        (N, T, E) before dropout, and the attention weights (N, T, S).
        """
        embedded, input_gates = self._embed_targets(target_in, training)
        batch = tf.shape(target_in)[0]
        initial = (
            state,
            tf.zeros([batch, self.units]),
            tf.zeros([batch, tf.shape(memory_mask)[1]]),
        )

        state_kernel = self.decoder_cell.state_kernel

        def step(carry: tuple, gates_t: tf.Tensor) -> tuple:
            output, _, weights, new_state = self._recur(
                gates_t, carry[0], memory, memory_mask, state_kernel=state_kernel
            )
            return new_state, output, weights

        per_step = tf.transpose(input_gates, [1, 0, 2])  # (T, N, gates*H)
        _, outputs, weights = tf.scan(step, per_step, initializer=initial)
        outputs = tf.transpose(outputs, [1, 0, 2])
        weights = tf.transpose(weights, [1, 0, 2])
        return outputs, tf.matmul(weights, memory.values), embedded, weights

    def teacher_forced(
        self,
        source_ids: tf.Tensor,
        target_in: tf.Tensor,
        positions: tf.Tensor | None = None,
        training: bool = False,
    ) -> tf.Tensor:
        """Logits of every target position given the gold prefix.

        With a boolean ``positions`` (N, T) (the non-padded targets), only those rows are
        projected onto the vocabulary and the result is (K, V); otherwise (N, T, V).
        """
        memory, memory_mask, state = self.encode(source_ids, training=training)
        outputs, contexts, embedded, _ = self.run_decoder(
            tf.convert_to_tensor(target_in, tf.int32), state, memory, memory_mask, training
        )
        if positions is not None:
            outputs = tf.boolean_mask(outputs, positions)
            contexts = tf.boolean_mask(contexts, positions)
            embedded = tf.boolean_mask(embedded, positions)
        return self._logits(outputs, contexts, embedded, training)

    def call(self, inputs: tuple[tf.Tensor, tf.Tensor], training: bool = False) -> tf.Tensor:
        source_ids, target_in = inputs
        return self.teacher_forced(source_ids, target_in, training=training)

    def warm_up(self) -> None:
        """Run every path once on a tiny batch, creating any variables still missing."""
        source = tf.constant([[4, 3]], tf.int32)
        self.teacher_forced(source, tf.constant([[BOS_ID]], tf.int32))
        memory, mask, state = self.encode(source)
        self.decode_step(tf.constant([BOS_ID]), state, memory, mask)

    def get_config(self) -> dict[str, Any]:
        return {
            **super().get_config(),
            "source_vocab_size": self.source_vocab_size,
            "target_vocab_size": self.target_vocab_size,
            "embed_dim": self.embed_dim,
            "units": self.units,
            "attention_units": self.attention_units,
            "cell": self.cell_kind,
            "encoder_layers": self.encoder_layers,
            "dropout": self.dropout_rate,
        }
