"""Vocabulary: token <-> id with reserved PAD=0, UNK, BOS, EOS, stored as plain text.

PAD is 0 so masks are simply ``ids != 0``. The file holds one token per line, reserved
tokens first, so the same file feeds a ``tf.lookup`` table inside exported SavedModels.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Iterable, Sequence
from pathlib import Path

import tensorflow as tf

from pipeline.io import write_lines

PAD, UNK, BOS, EOS = "<pad>", "<unk>", "<s>", "</s>"
RESERVED = (PAD, UNK, BOS, EOS)
PAD_ID, UNK_ID, BOS_ID, EOS_ID = range(len(RESERVED))


def token_counts(ids: tf.Tensor) -> tf.Tensor:
    """(N,) int32 real (non-PAD) tokens per row of PAD-padded ids (N, T): a sentence's
    length, whatever its batch padded it to."""
    return tf.reduce_sum(tf.cast(tf.not_equal(ids, PAD_ID), tf.int32), axis=1)


class Vocabulary:
    """An ordered token list; ids are positions. Unknown tokens map to UNK."""

    def __init__(self, tokens: Sequence[str]) -> None:
        if tuple(tokens[: len(RESERVED)]) != RESERVED:
            raise ValueError(f"a vocabulary must start with the reserved tokens {RESERVED}")
        if len(set(tokens)) != len(tokens):
            dupes = [t for t, n in Counter(tokens).items() if n > 1][:5]
            raise ValueError(f"duplicate tokens in vocabulary: {dupes}")
        bad = [t for t in tokens if not t or t != t.strip() or any(c.isspace() for c in t)]
        if bad:
            raise ValueError(f"tokens must be non-empty and contain no whitespace: {bad[:5]!r}")
        self.tokens: list[str] = list(tokens)
        self._ids = {t: i for i, t in enumerate(self.tokens)}

    @classmethod
    def build(
        cls, counts: Counter[str] | dict[str, int], min_count: int = 1, max_size: int | None = None
    ) -> Vocabulary:
        """Most frequent tokens first (ties alphabetical, so builds are reproducible).

        ``max_size`` counts the reserved tokens too, so it is the embedding matrix height.
        """
        kept = sorted(
            ((t, n) for t, n in counts.items() if n >= min_count and t not in RESERVED),
            key=lambda tn: (-tn[1], tn[0]),
        )
        if max_size is not None:
            kept = kept[: max(0, max_size - len(RESERVED))]
        return cls([*RESERVED, *(t for t, _ in kept)])

    def extended(self, counts: Counter[str] | dict[str, int], min_count: int = 1) -> Vocabulary:
        """This vocabulary plus the new tokens of ``counts``, appended in ``build``'s order.

        Every existing id keeps its meaning, so a matrix indexed by this vocabulary (trained
        word vectors) is still valid for the prefix of the extended one.
        """
        new = {t: n for t, n in counts.items() if t not in self._ids}
        return Vocabulary([*self.tokens, *Vocabulary.build(new, min_count).tokens[len(RESERVED) :]])

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> Vocabulary:
        path = Path(path)
        if not path.exists():
            raise FileNotFoundError(f"vocabulary {path} is missing; run `make tokenize`")
        try:
            lines = path.read_text(encoding="utf-8").split("\n")
            if lines and lines[-1] == "":
                lines.pop()
            return cls(lines)
        except ValueError as err:
            raise ValueError(f"{path} is not a valid vocabulary file: {err}") from err

    def save(self, path: str | os.PathLike[str]) -> None:
        write_lines(path, self.tokens)

    def __len__(self) -> int:
        return len(self.tokens)

    def __contains__(self, token: object) -> bool:
        return token in self._ids

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Vocabulary) and self.tokens == other.tokens

    def __repr__(self) -> str:
        return f"Vocabulary({len(self)} tokens)"

    def id(self, token: str) -> int:
        return self._ids.get(token, UNK_ID)

    def token(self, index: int) -> str:
        return self.tokens[index]

    def encode(
        self, tokens: Iterable[str], *, add_bos: bool = False, add_eos: bool = False
    ) -> list[int]:
        ids = [self._ids.get(t, UNK_ID) for t in tokens]
        return [BOS_ID] * add_bos + ids + [EOS_ID] * add_eos

    def decode(self, ids: Iterable[int], *, keep_special: bool = False) -> list[str]:
        """Tokens up to the first EOS; PAD/BOS/EOS dropped unless ``keep_special``."""
        out = []
        for i in ids:
            i = int(i)
            if i == EOS_ID and not keep_special:
                break
            if keep_special or i not in (PAD_ID, BOS_ID):
                out.append(self.tokens[i])
        return out

    def lookup_table(self) -> tf.lookup.StaticHashTable:
        """token -> id in the graph (unknown -> UNK), for tf.data and exported models."""
        init = tf.lookup.KeyValueTensorInitializer(
            tf.constant(self.tokens), tf.range(len(self.tokens), dtype=tf.int64)
        )
        return tf.lookup.StaticHashTable(init, default_value=UNK_ID)
