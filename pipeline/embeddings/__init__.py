"""Word embeddings: word2vec (skip-gram, negative sampling) and GloVe, evaluation and export."""
