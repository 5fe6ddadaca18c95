"""Recurrent cells from the seed's equations, and a factory to pick one by name."""

from pipeline.rnn.cells import (
    BasicRNNCell,
    GRUCell,
    LSTMCell,
    SimplifiedGRUCell,
    gru_weights_from_keras,
    lstm_weights_from_keras,
)
from pipeline.rnn.factory import KINDS, DeepRNN, make_cell, make_rnn

__all__ = [
    "KINDS",
    "BasicRNNCell",
    "DeepRNN",
    "GRUCell",
    "LSTMCell",
    "SimplifiedGRUCell",
    "gru_weights_from_keras",
    "lstm_weights_from_keras",
    "make_cell",
    "make_rnn",
]
