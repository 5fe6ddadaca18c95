"""Sentence polarity: averaged and recurrent classifiers over the trained word vectors."""
