"""End-to-end NLP pipeline in TensorFlow/Keras.

Stages are modules with a command line (``python -m pipeline.<stage> --help``); each reads the
artifacts of earlier stages from disk and writes its own atomically.
"""

import os

# TensorFlow's C++ start-up chatter (CUDA probes, CPU feature notes) drowns the stages' own
# logs on CPU machines; a user who wants it sets TF_CPP_MIN_LOG_LEVEL explicitly.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
