"""Which language is this word? A character-level bidirectional GRU over Debian's word lists.

The notes classify names by language with a character RNN, batching names of equal length and
showing a confusion matrix. Here the words are those of Debian's ``w<language>`` lists
(:mod:`~pipeline.wordlang.sources`), cleaned and split by a hash of the word
(:mod:`~pipeline.wordlang.words`); the model (:mod:`~pipeline.wordlang.model`) is compared
with character n-gram naive Bayes (:mod:`~pipeline.wordlang.baseline`) on the same split, and
exported as a SavedModel that takes raw words (:mod:`~pipeline.wordlang.export`).
``python -m pipeline.wordlang`` (``make word-language``) runs it all.
"""
