"""Greedy decoding, beam search and teacher-forced scoring for any encoder-decoder.

The model is reached only through two functions, so anything with this shape decodes:

- ``encode_fn(source_ids (N, S) int32) -> (memory, memory_mask (N, S) bool, state)``, where
  ``memory`` and ``state`` are nests of (N, ...) tensors;
- ``step_fn(prev_tokens (R,), state, memory, memory_mask, sentence (R,)) -> (logits (R, V),
  state, attention (R, S))``, where ``memory`` and ``memory_mask`` stay per sentence and
  row r (a sentence, or one of its hypotheses) reads sentence ``sentence[r]``; rows come
  grouped by sentence (``sentence`` is nondecreasing).

Every loop is a ``tf.while_loop`` over time with fixed-shape loop variables, so each function
traces once inside a ``tf.function`` with unknown N and S and stops as soon as every sentence
is done. PAD and BOS are never produced. ``max_len`` (tokens, EOS included, at least 1) is an
int, a scalar tensor or one limit per sentence: per-sentence limits derived from the true
source lengths (the translator's callers pass :func:`codec.max_target_len`) make a sentence
decode the same alone and in any batch.

Beam search keeps B hypotheses per sentence, flattened to N*B rows for ``step_fn``. Each step
takes the best candidates by raw log-probability; one that ends in EOS leaves the beam for the
finished set and the beam shrinks by one (as in Nematus/Marian), so a sentence is done once it
has B finished hypotheses, and B=1 is exactly greedy decoding. Length normalization only ranks
the finished hypotheses: score = log P / lp(T), T counting EOS, with lp(T) = T^alpha ("power")
or ((5+T)/6)^alpha ("gnmt"). A sentence also stops early once no alive hypothesis can reach
its n-best: log P only falls as a hypothesis grows and lp only rises, so log P / lp(max_len)
bounds every score a hypothesis can still reach. At the limit, unfinished hypotheses count as
finished (of length max_len), so there is always an output.

A step costs O(alive rows x (V + S x D)), whatever the step or the batch: ``step_fn`` runs
only on the alive hypotheses (not on dead beams or done sentences), the encoder memory is
never copied per row, each row's best tokens are found without sorting the vocabulary, and
the search keeps only each step's (N, B) tokens, parent beams and attention in
TensorArrays, backtracking once at the end (as tensor2tensor and fairseq do) instead of
copying whole histories every step.
``beam_size`` and ``alpha`` may be tensors, so one graph serves every setting.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Literal, NamedTuple

import tensorflow as tf

from pipeline.text import BOS_ID, EOS_ID, PAD_ID

EncodeFn = Callable[[tf.Tensor], tuple[Any, tf.Tensor, Any]]
StepFn = Callable[[tf.Tensor, Any, Any, tf.Tensor, tf.Tensor], tuple[tf.Tensor, Any, tf.Tensor]]
LengthPenalty = Literal["power", "gnmt"]

NEG_INF = float("-inf")


# Rows of logits are searched for their best tokens block by block: the best k tokens lie
# in the k blocks with the highest maxima, so one cheap max pass over the vocabulary
# replaces a heap-based top-k over all of it (the costliest op of a step after the matmul).
_BLOCK = 128


def _block_size(vocab: int) -> int:
    """The largest divisor of ``vocab`` in [32, _BLOCK], so the logits split into blocks
    without a padded copy (a quarter of this function's time at 15k words); else _BLOCK."""
    return next((b for b in range(_BLOCK, 31, -1) if vocab % b == 0), _BLOCK)


def _best_tokens(logits: tf.Tensor, k: int | tf.Tensor) -> tuple[tf.Tensor, tf.Tensor, tf.Tensor]:
    """Each row's best tokens other than PAD and BOS, best first (ties: lower id first).

    Returns log-probabilities (rows, W) and ids (rows, W), W = min(k + 2, V): the k + 2
    best logits, in which PAD and BOS are -inf, so the first k finite ones are the answer;
    and each row's log Z (rows, 1), which turns any other logit into its log-probability.
    The normalizer log Z = max logit - log p_max is read at the best token from one fused
    softmax pass, half the time of subtracting the max, exponentiating and summing; p_max
    >= 1/V cannot underflow.
    """
    vocab = tf.shape(logits)[-1]
    width = tf.minimum(k + 2, vocab)
    static_vocab = logits.shape[-1]
    if static_vocab is not None and static_vocab >= 4 * _BLOCK:
        block = _block_size(static_vocab)
        n_blocks = -(-static_vocab // block)
        padded = logits
        if n_blocks * block > static_vocab:
            padded = tf.pad(
                logits, [[0, 0], [0, n_blocks * block - static_vocab]], constant_values=NEG_INF
            )
        blocks = tf.reshape(padded, [-1, n_blocks, block])
        block_max = tf.reduce_max(blocks, axis=-1)
        # In ascending order, so that ties among the candidates still favour lower ids.
        chosen = tf.sort(tf.math.top_k(block_max, k=tf.minimum(width, n_blocks)).indices)
        candidates = tf.gather(blocks, chosen, batch_dims=1)
        candidate_ids = chosen[:, :, None] * block + tf.range(block)
        rows = tf.shape(logits)[0]
        top, position = tf.math.top_k(tf.reshape(candidates, [rows, -1]), k=width)
        ids = tf.gather(tf.reshape(candidate_ids, [rows, -1]), position, batch_dims=1)
    else:
        top, ids = tf.math.top_k(logits, k=width)
    p_max = tf.gather(tf.nn.softmax(logits), ids[:, :1], batch_dims=1)
    log_norm = top[:, :1] - tf.math.log(p_max)
    never = tf.equal(ids, PAD_ID) | tf.equal(ids, BOS_ID)
    return tf.where(never, NEG_INF, top - log_norm), ids, log_norm


def _limits(max_len: int | tf.Tensor, batch: tf.Tensor) -> tf.Tensor:
    """One int32 length limit (>= 1) per sentence."""
    limits = tf.broadcast_to(tf.cast(max_len, tf.int32), [batch])
    return tf.maximum(limits, 1)


def _same_nesting(like: Any, state: Any) -> Any:
    """``state`` in the nesting of ``like``: cells may return a list for a tuple, as Keras'."""
    return tf.nest.pack_sequence_as(like, tf.nest.flatten(state))


def _gather(nest: Any, rows: tf.Tensor) -> Any:
    return tf.nest.map_structure(lambda x: tf.gather(x, rows), nest)


def _checked(value: tf.Tensor, checks: list[Any]) -> tf.Tensor:
    """``value`` computed only after the ``checks`` (graph assertions) have passed."""
    with tf.control_dependencies(checks):
        return tf.identity(value)


def length_penalty_fn(
    kind: LengthPenalty, alpha: float | tf.Tensor
) -> Callable[[tf.Tensor], tf.Tensor]:
    """lp(T) for int lengths T: T^alpha ("power") or ((5+T)/6)^alpha ("gnmt"); alpha=0 gives 1.

    ``alpha`` may be a tensor; a negative one fails in the graph (InvalidArgumentError).
    """
    if tf.is_tensor(alpha):
        alpha = tf.cast(alpha, tf.float32)
        alpha = _checked(
            alpha,
            [
                tf.debugging.assert_non_negative(
                    alpha, message="alpha must be >= 0: the early-stop bound assumes lp grows"
                )
            ],
        )
    elif alpha < 0:
        raise ValueError("alpha must be >= 0: the early-stop bound assumes lp grows with T")
    if kind == "power":
        return lambda lengths: tf.pow(tf.cast(lengths, tf.float32), alpha)
    if kind == "gnmt":
        return lambda lengths: tf.pow((5.0 + tf.cast(lengths, tf.float32)) / 6.0, alpha)
    raise ValueError(f"unknown length penalty {kind!r}")


def greedy_decode(
    encode_fn: EncodeFn, step_fn: StepFn, source_ids: tf.Tensor, max_len: int | tf.Tensor
) -> dict[str, tf.Tensor]:
    """The argmax token at every step until EOS or the length limit.

    Returns tokens (N, T) int32 with PAD after EOS, scores (N,) the summed log-probabilities
    of the tokens, lengths (N,) (EOS included) and attention (N, T, S), zero after the end.
    Each step runs ``step_fn`` on the unfinished sentences only.
    """
    source_ids = tf.convert_to_tensor(source_ids, tf.int32)
    memory, memory_mask, state = encode_fn(source_ids)
    batch = tf.shape(source_ids)[0]
    limits = _limits(max_len, batch)

    def body(t, prev, state, finished, scores, lengths, tokens, attention):
        rows = tf.cast(tf.where(~finished)[:, 0], tf.int32)
        logits, new_state, weights = step_fn(
            tf.gather(prev, rows), _gather(state, rows), memory, memory_mask, rows
        )
        log_probs, ids, _ = _best_tokens(logits, 1)
        best = tf.argmax(log_probs, axis=-1, output_type=tf.int32)  # the first finite one
        at = rows[:, None]
        token = tf.scatter_nd(at, tf.gather(ids, best, batch_dims=1), [batch])  # PAD if done
        scores = tf.tensor_scatter_nd_add(scores, at, tf.gather(log_probs, best, batch_dims=1))
        lengths += tf.cast(~finished, tf.int32)
        tokens = tokens.write(t, token)
        attention = attention.write(t, tf.scatter_nd(at, weights, [batch, tf.shape(weights)[1]]))
        state = tf.nest.map_structure(
            lambda old, new: tf.tensor_scatter_nd_update(old, at, new),
            state, _same_nesting(state, new_state),
        )  # fmt: skip
        finished |= tf.equal(token, EOS_ID) | (t + 1 >= limits)
        return t + 1, token, state, finished, scores, lengths, tokens, attention

    def cond(t, prev, state, finished, *_):
        return ~tf.reduce_all(finished)

    _, _, _, _, scores, lengths, tokens, attention = tf.while_loop(
        cond,
        body,
        (
            tf.constant(0),
            tf.fill([batch], BOS_ID),
            state,
            tf.zeros([batch], tf.bool),
            tf.zeros([batch]),
            tf.zeros([batch], tf.int32),
            tf.TensorArray(tf.int32, size=0, dynamic_size=True),
            tf.TensorArray(tf.float32, size=0, dynamic_size=True),
        ),
    )
    return {
        "tokens": tf.transpose(tokens.stack()),
        "scores": scores,
        "lengths": lengths,
        "attention": tf.transpose(attention.stack(), [1, 0, 2]),
    }


class _Finished(NamedTuple):
    """Up to B finished hypotheses per sentence, in slots filled in order of completion.

    A hypothesis is found again by backtracking from candidate ``rank`` of step
    ``length - 1``; the search records every step's tokens and parents for that.
    """

    rank: tf.Tensor  # (N, B) int32
    log_probs: tf.Tensor  # (N, B), -inf in empty slots
    scores: tf.Tensor  # (N, B) normalized, -inf in empty slots
    lengths: tf.Tensor  # (N, B) int32, 0 in empty slots
    count: tf.Tensor  # (N,) int32


def _add_finished(
    finished: _Finished,
    mask: tf.Tensor,
    log_probs: tf.Tensor,
    length: tf.Tensor,
    penalty: Callable[[tf.Tensor], tf.Tensor],
) -> _Finished:
    """Move the candidates where ``mask`` (N, B) is set into each sentence's next free slots.

    Only the K new rows are scattered; there is always room since a sentence never has
    more than B hypotheses alive and finished together.
    """
    new = tf.cast(mask, tf.int32)
    slots = finished.count[:, None] + tf.cumsum(new, axis=1, exclusive=True)
    source = tf.cast(tf.where(mask), tf.int32)  # (K, 2): sentence, rank among candidates
    target = tf.stack([source[:, 0], tf.gather_nd(slots, source)], axis=1)
    lengths = tf.fill(tf.shape(log_probs), length)

    def put(buffer: tf.Tensor, values: tf.Tensor) -> tf.Tensor:
        return tf.tensor_scatter_nd_update(buffer, target, tf.gather_nd(values, source))

    return _Finished(
        rank=tf.tensor_scatter_nd_update(finished.rank, target, source[:, 1]),
        log_probs=put(finished.log_probs, log_probs),
        scores=put(finished.scores, log_probs / penalty(lengths)),
        lengths=put(finished.lengths, lengths),
        count=finished.count + tf.reduce_sum(new, axis=1),
    )


def beam_search(
    encode_fn: EncodeFn,
    step_fn: StepFn,
    source_ids: tf.Tensor,
    beam_size: int | tf.Tensor,
    alpha: float | tf.Tensor = 0.0,
    max_len: int | tf.Tensor = 100,
    length_penalty: LengthPenalty = "power",
    n_best: int | tf.Tensor = 1,
    prefix: tf.Tensor | None = None,
) -> dict[str, tf.Tensor]:
    """The ``n_best`` best hypotheses per sentence, best first (see the module docstring).

    ``beam_size``, ``alpha`` and ``n_best`` may be scalar tensors, so one graph serves every
    setting; invalid values are then InvalidArgumentErrors when the graph runs. ``prefix``
    (N, P) int32, PAD after each sentence's forced tokens, makes every hypothesis of a
    sentence start with them: while in its prefix a hypothesis has the prefix's next token as
    its only continuation, with that token's log-probability, and the search goes on from
    there (interactive translation, fairseq's ``--prefix-size``). A prefix must leave room
    for EOS within the sentence's length limit.

    Returns tokens (N, n_best, T) int32 with PAD after EOS, scores (N, n_best) normalized,
    log_probs (N, n_best) raw sums, lengths (N, n_best) EOS included, and attention
    (N, n_best, T, S), zero after the end.
    """
    beam_size = _checked_beam(beam_size, n_best)
    penalty = length_penalty_fn(length_penalty, alpha)
    source_ids = tf.convert_to_tensor(source_ids, tf.int32)
    memory, memory_mask, state = encode_fn(source_ids)
    batch = tf.shape(source_ids)[0]
    limits = _limits(max_len, batch)
    prefix, prefix_lengths = _forced(prefix, batch, limits)
    search = _Search(
        step_fn, memory, memory_mask, batch, beam_size, limits, penalty, n_best,
        offsets=tf.range(batch)[:, None] * beam_size, rank=tf.range(beam_size)[None, :],
        prefix=prefix, prefix_lengths=prefix_lengths,
    )  # fmt: skip

    def body(t, prev, state, alive, tokens, parents, attention, finished):
        candidates = _expand(search, t, prev, state, alive)
        top, token, parent = _select(search, candidates)
        state, weights = _reorder(search, candidates, parent)
        alive, finished = _collect_finished(search, t + 1, top, token, finished)
        alive = _stop_hopeless(search, alive, finished)
        tokens, parents = tokens.write(t, token), parents.write(t, parent)
        attention = attention.write(t, weights)
        return t + 1, tf.reshape(token, [-1]), state, alive, tokens, parents, attention, finished

    def cond(t, prev, state, alive, *_):
        return tf.reduce_any(alive > NEG_INF)

    _, _, _, _, tokens, parents, attention, finished = tf.while_loop(
        cond, body, _start(search, state)
    )
    return _backtrack(tokens, parents, attention, finished, n_best)


def _forced(
    prefix: tf.Tensor | None, batch: tf.Tensor, limits: tf.Tensor
) -> tuple[tf.Tensor, tf.Tensor]:
    """The prefix (N, P + 1), one PAD column added so that step t >= P still reads a column,
    and its lengths (N,), checked to leave room for EOS."""
    if prefix is None:
        return tf.fill([batch, 1], PAD_ID), tf.zeros([batch], tf.int32)
    prefix = tf.convert_to_tensor(prefix, tf.int32)
    lengths = tf.reduce_sum(tf.cast(tf.not_equal(prefix, PAD_ID), tf.int32), axis=1)
    room = tf.debugging.assert_less(
        lengths, limits, message="the prefix is as long as the output length limit or longer"
    )
    prefix = tf.pad(prefix, [[0, 0], [0, 1]], constant_values=PAD_ID)
    return prefix, _checked(lengths, [room])


def _checked_beam(beam_size: int | tf.Tensor, n_best: int | tf.Tensor) -> int | tf.Tensor:
    """``beam_size``, once 1 <= n_best <= beam_size holds: checked in the graph if either is
    a tensor, else now (ValueError)."""
    if tf.is_tensor(beam_size) or tf.is_tensor(n_best):
        beam_size = tf.cast(beam_size, tf.int32)
        return _checked(
            beam_size,
            [
                tf.debugging.assert_greater_equal(n_best, 1, message="need 1 <= n_best"),
                tf.debugging.assert_less_equal(
                    n_best, beam_size, message="need n_best <= beam_size"
                ),
            ],
        )
    if not 1 <= n_best <= beam_size:
        raise ValueError("need 1 <= n_best <= beam_size")
    return beam_size


class _Search(NamedTuple):
    """What every step of one search reads; fixed for the whole loop. Row n*B + b of the
    flattened [batch * beam] layout is beam b of sentence n."""

    step_fn: StepFn
    memory: Any  # nest of [batch, ...], per sentence (never copied per beam)
    memory_mask: tf.Tensor  # [batch, source]
    batch: tf.Tensor  # N
    beams: int | tf.Tensor  # B
    limits: tf.Tensor  # [batch] output length limit, EOS included
    penalty: Callable[[tf.Tensor], tf.Tensor]  # lp(T)
    n_best: int | tf.Tensor
    offsets: tf.Tensor  # [batch, 1] the row of each sentence's beam 0
    rank: tf.Tensor  # [1, beam] 0 .. B-1
    prefix: tf.Tensor  # [batch, P + 1] each sentence's forced tokens, PAD after them
    prefix_lengths: tf.Tensor  # [batch]


def _start(search: _Search, state: Any) -> tuple:
    """The loop variables before the first step: one live hypothesis (BOS) per sentence."""
    batch, beams = search.batch, search.beams
    empty = tf.fill([batch, beams], NEG_INF)
    return (
        tf.constant(0),
        tf.fill([batch * beams], BOS_ID),  # [batch * beam] each row's previous token
        tf.nest.map_structure(lambda x: tf.repeat(x, beams, axis=0), state),  # [batch * beam, ..]
        tf.concat([tf.zeros([batch, 1]), empty[:, 1:]], axis=1),  # [batch, beam] alive log P
        tf.TensorArray(tf.int32, size=0, dynamic_size=True),  # [batch, beam] token per candidate
        tf.TensorArray(tf.int32, size=0, dynamic_size=True),  # [batch, beam] its parent beam
        tf.TensorArray(tf.float32, size=0, dynamic_size=True),  # [batch, beam, source] attention
        _Finished(
            rank=tf.zeros([batch, beams], tf.int32),
            log_probs=empty,
            scores=empty,
            lengths=tf.zeros([batch, beams], tf.int32),
            count=tf.zeros([batch], tf.int32),
        ),
    )


class _Candidates(NamedTuple):
    """The continuations of one step: W per beam, laid out [batch, beam * W] (beam-major)."""

    log_probs: tf.Tensor  # [batch, beam * W] log P of hypothesis + token, -inf from dead beams
    tokens: tf.Tensor  # [batch, beam * W]
    width: tf.Tensor  # W
    live: tf.Tensor  # [batch * beam] bool: the rows that were run
    rows: tf.Tensor  # [R] their flat indices n*B + b, ascending
    state: Any  # nest of [R, ...]: each run row's new state
    attention: tf.Tensor  # [R, source]


def _expand(
    search: _Search, t: tf.Tensor, prev: tf.Tensor, state: Any, alive: tf.Tensor
) -> _Candidates:
    """One decoder step (step ``t``) of the alive hypotheses and each one's B best next
    tokens: a beam's B best continuations hold all it can contribute to its sentence's B
    best."""
    # Only the alive hypotheses are run: at the start, once the beam shrinks and after a
    # sentence is done, most rows would be wasted work.
    live = tf.reshape(alive > NEG_INF, [-1])  # [batch * beam]
    rows = tf.cast(tf.where(live)[:, 0], tf.int32)  # [R]
    logits, new_state, weights = search.step_fn(
        tf.gather(prev, rows),
        _gather(state, rows),
        search.memory,
        search.memory_mask,
        rows // search.beams,  # [R] each row's sentence
    )
    log_probs, ids, log_norm = _best_tokens(logits, search.beams)  # [R, W]
    log_probs, ids = _force_prefix(
        search, t, rows // search.beams, logits, log_norm, log_probs, ids
    )
    width = tf.shape(ids)[1]
    # Back onto the full grid, [R, W] -> [batch * beam, W] -> [batch, beam * W].
    grid = [search.batch * search.beams, width]
    log_probs = tf.reshape(tf.scatter_nd(rows[:, None], log_probs, grid), [search.batch, -1])
    ids = tf.reshape(tf.scatter_nd(rows[:, None], ids, grid), [search.batch, -1])
    total = tf.repeat(alive, width, axis=1) + log_probs  # -inf from dead beams
    return _Candidates(total, ids, width, live, rows, _same_nesting(state, new_state), weights)


def _force_prefix(
    search: _Search,
    t: tf.Tensor,
    sentence: tf.Tensor,
    logits: tf.Tensor,
    log_norm: tf.Tensor,
    log_probs: tf.Tensor,
    ids: tf.Tensor,
) -> tuple[tf.Tensor, tf.Tensor]:
    """The candidates [R, W] with the rows still inside their sentence's prefix reduced to
    one: the prefix's token at step ``t``, scored by the model (log Z from ``_best_tokens``)."""
    forcing = (t < tf.gather(search.prefix_lengths, sentence))[:, None]  # [R, 1]
    column = tf.minimum(t, tf.shape(search.prefix)[1] - 1)
    token = tf.gather(search.prefix[:, column], sentence)[:, None]  # [R, 1]
    forced = tf.gather(logits, token, batch_dims=1) - log_norm  # [R, 1]
    first = tf.equal(tf.range(tf.shape(ids)[1]), 0)[None, :]  # [1, W]
    ids = tf.where(forcing & first, token, ids)
    log_probs = tf.where(forcing, tf.where(first, forced, NEG_INF), log_probs)
    return log_probs, ids


def _select(search: _Search, candidates: _Candidates) -> tuple[tf.Tensor, tf.Tensor, tf.Tensor]:
    """Each sentence's B best candidates by raw log P: their log P, token and parent beam,
    [batch, beam] each, best first."""
    top, index = tf.math.top_k(candidates.log_probs, k=search.beams)  # index in [0, beam * W)
    token = tf.gather(candidates.tokens, index, batch_dims=1)
    return top, token, index // candidates.width


def _reorder(search: _Search, candidates: _Candidates, parent: tf.Tensor) -> tuple[Any, tf.Tensor]:
    """The new state [batch * beam, ...] and attention [batch, beam, source] of the chosen
    candidates, read from the rows of their parents."""
    # Where each beam's row sits among the R rows that were run, [batch * beam] -> [0, R)
    # (any row for a candidate from a dead beam: it is -inf and never used).
    position = tf.minimum(
        tf.cumsum(tf.cast(candidates.live, tf.int32), exclusive=True),
        tf.size(candidates.rows) - 1,
    )
    parent_rows = tf.reshape(parent + search.offsets, [-1])  # [batch * beam] n*B + parent
    source = tf.gather(position, parent_rows)  # [batch * beam] in [0, R)
    state = _gather(candidates.state, source)
    attention = tf.gather(candidates.attention, source)  # [batch * beam, source]
    return state, tf.reshape(attention, [search.batch, search.beams, -1])


def _collect_finished(
    search: _Search, length: tf.Tensor, top: tf.Tensor, token: tf.Tensor, finished: _Finished
) -> tuple[tf.Tensor, _Finished]:
    """The chosen candidates [batch, beam] that end in EOS or reach their sentence's limit
    (at ``length`` tokens) move to the finished set; the rest are the alive log P."""
    # The beam is as wide as the sentence's unfinished share of B.
    kept = (search.rank < search.beams - finished.count[:, None]) & (top > NEG_INF)
    ended = tf.equal(token, EOS_ID)
    finished = _add_finished(finished, kept & ended, top, length, search.penalty)
    alive = tf.where(kept & ~ended, top, NEG_INF)
    # Hypotheses at their sentence's length limit are finished as they are.
    at_limit = (length >= search.limits)[:, None] & (alive > NEG_INF)
    finished = _add_finished(finished, at_limit, alive, length, search.penalty)
    return tf.where(at_limit, NEG_INF, alive), finished


def _stop_hopeless(search: _Search, alive: tf.Tensor, finished: _Finished) -> tf.Tensor:
    """``alive`` [batch, beam] with the sentences done whose alive hypotheses can no longer
    reach the n-best (the bound of the module docstring)."""
    best_reachable = tf.reduce_max(alive, axis=1) / search.penalty(search.limits)  # [batch]
    nth_finished = tf.math.top_k(finished.scores, k=search.n_best).values[:, -1]  # [batch]
    return tf.where((nth_finished >= best_reachable)[:, None], NEG_INF, alive)


def _backtrack(
    tokens: tf.TensorArray,
    parents: tf.TensorArray,
    attention: tf.TensorArray,
    finished: _Finished,
    n_best: int | tf.Tensor,
) -> dict[str, tf.Tensor]:
    """The n-best finished hypotheses spelled out, from each one's last candidate back to the
    first step through the recorded parents, once at the end."""
    scores, best = tf.math.top_k(finished.scores, k=n_best)  # [batch, n_best]
    lengths = tf.gather(finished.lengths, best, batch_dims=1)  # [batch, n_best]
    longest = tf.reduce_max(lengths)
    tokens, parents = tokens.stack()[:longest], parents.stack()[:longest]  # [T, batch, beam]

    def back(t, rank, path):
        t -= 1
        path = path.write(t, rank)
        parent = tf.gather(parents[t], rank, batch_dims=1)
        return t, tf.where(t < lengths, parent, rank), path

    _, _, path = tf.while_loop(
        lambda t, *_: t > 0,
        back,
        (
            longest,
            tf.gather(finished.rank, best, batch_dims=1),
            tf.TensorArray(tf.int32, size=longest),
        ),
    )
    path = path.stack()  # [T, batch, n_best] candidate ranks
    inside = tf.range(longest)[:, None, None] < lengths[None]  # [T, batch, n_best]
    tokens = tf.where(inside, tf.gather(tokens, path, batch_dims=2), PAD_ID)
    attention = tf.gather(attention.stack()[:longest], path, batch_dims=2)  # [T, batch, n_best, S]
    attention = tf.where(inside[..., None], attention, 0.0)
    return {
        "tokens": tf.transpose(tokens, [1, 2, 0]),
        "scores": scores,
        "log_probs": tf.gather(finished.log_probs, best, batch_dims=1),
        "lengths": lengths,
        "attention": tf.transpose(attention, [1, 2, 0, 3]),
    }


def score_targets(
    encode_fn: EncodeFn, step_fn: StepFn, source_ids: tf.Tensor, target_ids: tf.Tensor
) -> tf.Tensor:
    """log P(target | source) (N,): teacher-forced log-probabilities summed over the target
    tokens (EOS included, PAD skipped), to set P(y* | x) beside P(ŷ | x) in error analysis."""
    source_ids = tf.convert_to_tensor(source_ids, tf.int32)
    targets = tf.convert_to_tensor(target_ids, tf.int32)
    memory, memory_mask, state = encode_fn(source_ids)
    batch = tf.shape(targets)[0]
    sentence = tf.range(batch)  # row n is sentence n
    previous = tf.concat([tf.fill([batch, 1], BOS_ID), targets[:, :-1]], axis=1)

    def body(t, state, total):
        logits, new_state, _ = step_fn(previous[:, t], state, memory, memory_mask, sentence)
        target = targets[:, t]
        log_prob = tf.gather(tf.nn.log_softmax(logits), target, batch_dims=1)
        total += tf.where(tf.equal(target, PAD_ID), 0.0, log_prob)
        return t + 1, _same_nesting(state, new_state), total

    _, _, total = tf.while_loop(
        lambda t, *_: t < tf.shape(targets)[1],
        body,
        (tf.constant(0), state, tf.zeros([batch])),
    )
    return total
