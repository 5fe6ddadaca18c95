"""Recurrent language model: training on the English corpus, sampling, SavedModel export."""
