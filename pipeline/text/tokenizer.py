"""Word tokenization that runs identically in Python (NLTK) and inside a TF graph.

Exported SavedModels must tokenize raw strings themselves, with ``tf.strings`` ops only, so a
program that never imports this package gets exactly the tokens the model was trained on.
NLTK's Treebank and Toktok tokenizers rely on look-around regexes that RE2 (the engine
behind ``tf.strings``) cannot run. So the tokenizer is an ``nltk`` ``RegexpTokenizer`` whose
pattern is written in the syntax RE2 and the ``regex`` engine NLTK uses share (Unicode
properties, inline case folding, no look-around); :meth:`Tokenizer.tf_tokenize` runs the same
pattern in the graph, and the tests hold the two to equality on real corpus lines.

A token is a run of letters, marks and digits, possibly joined by ``-``, apostrophes or
``.`` (``e-mail``, ``don't``, ``3.14``) or by a comma before digits (``525,600``); a known
abbreviation of the language keeps its period (``z.b.``, ``etw.``, ``e.g.``); any other
visible character is a token of its own. Needs no downloaded model.
"""

from __future__ import annotations

from collections.abc import Sequence

import regex
import tensorflow as tf
from nltk.tokenize import RegexpTokenizer

# Abbreviations whose final period belongs to the word (lowercase, without that period).
# German ones include the Ding dictionary's placeholders (jdn., etw.); English ones sb./sth.
ABBREVIATIONS: dict[str, tuple[str, ...]] = {
    "de": (
        "z.b", "d.h", "u.a", "o.ä", "u.ä", "s.o", "s.u", "z.t", "usw", "bzw", "ca", "etw",
        "jdn", "jdm", "jds", "jmd", "evtl", "ggf", "inkl", "vgl", "bspw", "bzgl", "nr", "dr",
        "prof", "str", "hr", "fr", "st", "zzgl", "jh", "geb", "gest", "sog", "usf",
    ),
    "en": (
        "e.g", "i.e", "a.m", "p.m", "u.s", "u.k", "etc", "mr", "mrs", "ms", "dr", "st", "vs",
        "jr", "sr", "prof", "sth", "sb", "approx", "dept", "fig", "inc", "ltd", "corp",
    ),
}  # fmt: skip

_WORD_CHAR = r"[\p{L}\p{M}\p{N}]"
_WORD = rf"{_WORD_CHAR}+(?:[-'.]{_WORD_CHAR}+|,\p{{N}}+)*"
# Invisible format characters (soft hyphen, zero-width, BOM, bidi marks) vanish; controls
# and every Unicode space become one ASCII space, which is then the only separator.
_INVISIBLE = r"\p{Cf}"
_SPACE = r"[\p{Cc}\p{Z}]+"
# Typographic apostrophes become ASCII ones so "don’t" and "don't" are one word.
_APOSTROPHE = r"[’ʼ]"


def token_pattern(lang: str) -> str:
    """The token regex for ``lang``; a language without an abbreviation list gets the rest."""
    abbreviations = sorted(ABBREVIATIONS.get(lang, ()), key=len, reverse=True)
    prefix = rf"(?i:(?:{'|'.join(map(regex.escape, abbreviations))})\.)|" if abbreviations else ""
    return rf"{prefix}{_WORD}|[^ ]"


class Tokenizer:
    """Language-aware word tokenizer with an in-graph twin; ``lowercase`` is applied first."""

    def __init__(self, lang: str = "en", lowercase: bool = True) -> None:
        self.lang = lang
        self.lowercase = lowercase
        self.pattern = token_pattern(lang)
        self._nltk = RegexpTokenizer(self.pattern)
        self._invisible = regex.compile(_INVISIBLE)
        self._space = regex.compile(_SPACE)
        self._apostrophe = regex.compile(_APOSTROPHE)

    def __repr__(self) -> str:
        return f"Tokenizer(lang={self.lang!r}, lowercase={self.lowercase})"

    def tokenize(self, text: str | bytes) -> list[str]:
        """Tokens of one string; undecodable bytes become U+FFFD (a token of its own)."""
        if isinstance(text, bytes):
            text = text.decode("utf-8", errors="replace")
        text = self._space.sub(" ", self._invisible.sub("", text))
        text = self._apostrophe.sub("'", text)
        if self.lowercase:
            text = text.lower()
        return self._nltk.tokenize(text)

    def tokenize_batch(self, texts: Sequence[str | bytes]) -> list[list[str]]:
        return [self.tokenize(t) for t in texts]

    def tf_tokenize(self, texts: tf.Tensor) -> tf.RaggedTensor:
        """Tokenize a string tensor of any shape in the graph; returns ``shape + [None]``."""
        spaced = tf.strings.regex_replace(self.tf_normalize(texts), self.pattern, r" \0 ")
        return tf.strings.split(spaced)

    def tf_normalize(self, texts: tf.Tensor) -> tf.Tensor:
        """The text the tokens are cut from, also what a character-level model reads.

        Invalid UTF-8 is repaired to U+FFFD first, because RE2 would otherwise reject the
        whole batch; the Python path does the same through ``errors="replace"``.
        """
        texts = tf.convert_to_tensor(texts, dtype=tf.string)
        texts = tf.strings.unicode_transcode(
            texts, "UTF-8", "UTF-8", errors="replace", replacement_char=0xFFFD
        )
        texts = tf.strings.regex_replace(texts, _INVISIBLE, "")
        texts = tf.strings.regex_replace(texts, _SPACE, " ")
        texts = tf.strings.regex_replace(texts, _APOSTROPHE, "'")
        if self.lowercase:
            texts = tf.strings.lower(texts, encoding="utf-8")
        return texts
