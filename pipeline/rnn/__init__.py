"""Recurrent cells from the seed's equations, and a factory to pick one by name."""

from pipeline.rnn.cells import (
    BasicRNNCell,
    FusedCell,
    GRUCell,
    LSTMCell,
    SimplifiedGRUCell,
    gru_weights_from_keras,
    lstm_weights_from_keras,
)
from pipeline.rnn.factory import KINDS, DeepRNN, make_cell, make_rnn, make_step_cell

__all__ = [
    "KINDS",
    "BasicRNNCell",
    "DeepRNN",
    "FusedCell",
    "GRUCell",
    "LSTMCell",
    "SimplifiedGRUCell",
    "gru_weights_from_keras",
    "lstm_weights_from_keras",
    "make_cell",
    "make_rnn",
    "make_step_cell",
]
