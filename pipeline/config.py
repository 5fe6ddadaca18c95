"""Presets and paths shared by every stage.

``smoke`` runs in seconds on fixture data (tests), ``default`` is sized for a 2-core CPU and
finishes in minutes, ``full`` is for bigger machines. A stage's flags override its preset.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Any, TypeVar

T = TypeVar("T")


USER_RUNS = "user"  # the folder of the named runs under each artifact root
RUN_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")


def check_run_name(name: str) -> str:
    """A run's name becomes a folder name in four places, so it is kept to a portable one."""
    if not RUN_NAME.fullmatch(name):
        raise ValueError(
            f"{name!r} is not a usable run name: use 1-64 letters, digits, '_', '-' or '.', "
            "starting with a letter or digit (RUN=my-reviews)."
        )
    return name


@dataclass(frozen=True)
class Paths:
    """Where artifacts live; every stage reads its inputs from here and writes below it.

    A named run of the user's own data (``run``, see :meth:`named`) has its own folder under
    each of these, so it never overwrites the default pipeline's artifacts; the fetched
    sources (``raw``) and the built-in datasets (``tfds``) stay shared.
    """

    data: Path = Path("data")
    reports: Path = Path("reports")
    saved_models: Path = Path("saved_models")
    runs: Path = Path("runs")  # checkpoints and TensorBoard logs of training runs
    run: str = ""  # the named run these paths belong to ("" for the default pipeline)

    def named(self, run: str) -> Paths:
        """Run ``run``'s folders below these roots (``reports/user/<run>``, ...)."""
        own = Path(USER_RUNS) / check_run_name(run)
        return Paths(self.data, self.reports / own, self.saved_models / own, self.runs / own, run)

    @property
    def raw(self) -> Path:
        return self.data / "raw"

    @property
    def processed(self) -> Path:
        root = self.data / "processed"
        return root / USER_RUNS / self.run if self.run else root

    @property
    def tfds(self) -> Path:
        return self.data / "tfds"


@dataclass(frozen=True)
class DataConfig:
    n_test: int = 1000  # de-en sentence pairs held out as the test set
    n_dev: int = 1000  # de-en sentence pairs held out as the dev set
    n_folds: int = 10  # cross-validation folds the polarity examples are split into
    n_loc_test: int = 1000  # localization messages (German sources) held out as the test set
    n_loc_dev: int = 1000  # localization messages (German sources) held out as the dev set
    catalogues: tuple[str, ...] = ()  # catalogue packages used (empty: every one in the registry)
    corpus_sources: tuple[str, ...] = ()  # English corpus sources used (empty: all of data.english)
    min_corpus_tokens: int = 10_000_000  # fewest whitespace tokens the English corpus may have


@dataclass(frozen=True)
class TokenizeConfig:
    lowercase: bool = True  # lowercase text before word tokenization
    corpus_min_count: int = 5  # rarer corpus words become UNK (sentiment reuses this vocabulary)
    corpus_max_size: int = 100_000  # most words kept in the corpus vocabulary
    translate_dataset: str = "de_en_translate"  # TFDS parallel corpus the translator trains on
    translate_langs: tuple[str, ...] = ("de", "en")  # that corpus's two language features
    translate_min_count: int = 2  # rarer training-split words become UNK (word vocabularies)
    translate_max_size: int = 30_000  # most words kept in each language's word vocabulary
    translate_subword_size: int = 8_000  # pieces in the joint, cased SentencePiece model
    translate_subword_model: str = "unigram"  # SentencePiece algorithm: "unigram" or "bpe"
    polarity_min_count: int = 2  # count an MR word outside the corpus vocabulary needs to join it
    batch_size: int = 1024  # lines per tokenization batch


@dataclass(frozen=True)
class LMConfig:
    level: str = "word"  # what is modelled: "word" or "char"
    cell: str = "gru"  # recurrent cell, any pipeline.rnn kind
    layers: int = 1  # stacked recurrent layers
    vocab_size: int = 30_000  # word level: the corpus vocabulary's most frequent words kept
    char_min_count: int = 20  # character level: fewest occurrences for a character to be kept
    embed_dim: int = 128  # token embedding size
    units: int = 256  # recurrent state size
    dropout: float = 0.1  # dropout rate on the recurrent outputs
    max_len: int = 64  # word level: tokens per training sentence
    char_max_len: int = 256  # character level: characters per training line
    batch_size: int = 256  # sentences per training step
    num_sampled: int = 1024  # sampled-softmax negatives in training (0: full softmax)
    learning_rate: float = 2e-3  # Adam step size
    clipnorm: float = 1.0  # gradient norm bound per variable
    epochs: int = 6  # training epochs
    steps_per_epoch: int = 200  # word level: training steps per epoch
    char_steps_per_epoch: int = 50  # character level: training steps per epoch
    held_out: int = 5000  # sentences kept out of training for perplexity
    val_sentences: int = 500  # held-out sentences evaluated after every epoch
    sample_max_len: int = 40  # most tokens generated per sample (character level: 4x)
    seed: int = 0  # random seed


@dataclass(frozen=True)
class EmbeddingsConfig:
    """Hyperparameters shared by word2vec and GloVe, and each one's own (gensim's defaults)."""

    dim: int = 100  # vector size of both models
    window: int = 5  # context words each side: word2vec's dynamic maximum, GloVe's fixed width
    max_vocab: int = 100_000  # most frequent corpus words embedded (rarer ones leave the text)
    seed: int = 0  # random seed
    negatives: int = 5  # word2vec: negative samples per (center, context) pair
    subsample: float = 1e-3  # word2vec: frequent-word subsampling threshold (gensim's `sample`)
    epochs: int = 5  # word2vec: passes over the corpus
    learning_rate: float = 0.025  # word2vec: first SGD step size, decaying linearly
    min_learning_rate: float = 1e-4  # word2vec: last SGD step size
    batch_size: int = 8192  # word2vec: (center, context) pairs per step
    share_negatives: int = 32  # word2vec: consecutive pairs sharing their negatives (1: none)
    glove_epochs: int = 15  # GloVe: passes over the co-occurrence cells
    glove_x_max: float = 100.0  # GloVe: count at which the weight f(x) reaches 1
    glove_alpha: float = 0.75  # GloVe: exponent of the weight f(x) = min(1, (x / x_max)^alpha)
    glove_learning_rate: float = 0.2  # GloVe: minibatch AdaGrad step size
    glove_batch_size: int = 65_536  # GloVe: nonzero co-occurrence cells per step
    analogy_restrict: int = 30_000  # evaluation: analogy answers come from this many top words


@dataclass(frozen=True)
class TranslateConfig:
    """The attention translator (pipeline.translate); ``default`` is bounded by its time budget."""

    source: str = "de"  # source language feature
    target: str = "en"  # target language feature
    tokens: str = "subword"  # "subword" (the joint SentencePiece model) or "word" (per language)
    cell: str = "keras_gru"  # encoder and decoder cell, any pipeline.rnn kind
    encoder_layers: int = 1  # stacked bidirectional encoder layers
    embed_dim: int = 128  # token embedding size, source and target
    units: int = 256  # state size per encoder direction, and of the decoder
    attention_units: int = 256  # hidden size of the additive attention
    dropout: float = 0.1  # dropout rate
    label_smoothing: float = 0.1  # probability mass the loss spreads over all target tokens
    max_len: int = 40  # training pairs with a longer side (in tokens) are dropped
    mix: str = "sentence=0.3,phrase=0.15,lexical=0.15,catalogue=0.4"  # pair shares by kind
    batch_size: int = 64  # pairs per step, over all replicas
    learning_rate: float = 3e-3  # Adam step size at the start
    lr_schedule: str = "plateau"  # "plateau": halved when dev loss stalls; "cosine": by step
    clipnorm: float = 1.0  # global gradient norm bound
    epochs: int = 60  # most epochs run
    steps_per_epoch: int = 500  # training steps between dev evaluations
    max_minutes: float = 35.0  # wall-clock bound on the whole run (0: none)
    patience: int = 3  # epochs without a better dev loss before stopping
    save_every: int = 100  # steps between checkpoints
    keep_checkpoints: int = 5  # run checkpoints kept, >= 2 (a damaged newest one falls back)
    average_last: int = 5  # decoded weights: the mean of the last K checkpoints (1: best dev loss)
    shuffle_buffer: int = 20_000  # training pairs in the shuffle buffer
    seed: int = 0  # random seed


@dataclass(frozen=True)
class SentimentConfig:
    """Polarity classifiers over the trained word vectors, compared by k-fold CV on MR."""

    dataset: str = "mr"  # our MR records (10-fold CV) or a TFDS one, e.g. imdb_reviews
    configs: tuple[str, ...] = (  # <model>/<init> runs: average|recurrent x word2vec|glove|random
        "average/word2vec", "average/glove", "average/random", "recurrent/word2vec",
    )  # fmt: skip
    finetune: bool = True  # train pretrained embeddings too (random ones always train)
    nbsvm_vote: bool = True  # also score each configuration's soft vote with NBSVM (+nbsvm rows)
    cell: str = "keras_gru"  # recurrent cell, any pipeline.rnn kind (keras_* run fastest on a CPU)
    units: int = 64  # recurrent state size per direction
    layers: int = 1  # stacked bidirectional layers
    pooling: str = "final+max"  # "final" states, or "final+max": those and a masked max over time
    dropout: float = 0.5  # dropout rate on the word vectors and on the classifier's input
    max_len: int = 64  # tokens kept per text
    batch_size: int = 64  # texts per training step
    learning_rate: float = 2e-3  # the recurrent model's Adam step size
    average_learning_rate: float = 1e-2  # the averaging model's (it has few weights to move)
    epochs: int = 12  # most epochs per fold; early stopping usually ends sooner
    patience: int = 2  # epochs without a better monitored value before stopping
    monitor: str = "val_loss"  # what early stopping watches: "val_loss" or "val_accuracy"
    val_fraction: float = 0.1  # share of each training fold held out for early stopping
    folds: int = 0  # test folds run (0: all)
    seed: int = 0  # random seed (fold k uses seed + k)


@dataclass(frozen=True)
class GradientsConfig:
    """The vanishing/exploding-gradients lesson (pipeline.lessons.gradients)."""

    cells: tuple[str, ...] = ("rnn", "jordan", "gru_simple", "gru", "lstm")  # kinds compared
    toy_weights: tuple[float, ...] = (0.99, 1.0, 1.01)  # linear toy: recurrent weights w
    toy_length: int = 1000  # linear toy: steps T, so y_T = w^(T-1) x_1
    vocab_size: int = 2_000  # most frequent corpus words kept (rarer: UNK), the softmax's width
    embed_dim: int = 64  # word embedding size
    units: int = 128  # recurrent state size (the Jordan's hidden layer a_t)
    seq_len: int = 64  # tokens per window of the corpus stream: training BPTT and probe length
    batch_size: int = 32  # windows per training step
    steps: int = 200  # training steps per cell, the same budget for each
    learning_rate: float = 2e-3  # Adam step size
    clipnorm: float = 1.0  # global gradient norm bound, in training and in the clipping demo
    probe_windows: int = 64  # held-out windows the gradient-vs-distance curves average over
    eval_windows: int = 512  # held-out windows for loss and perplexity
    held_out: int = 5_000  # corpus sentences held out (the last ones, as the LM stage does)
    explode_gain: float = 2.0  # clipping demo: gain of the plain RNN's orthogonal recurrent init
    explode_learning_rate: float = 1.0  # clipping demo: the SGD step size of the one step taken
    seed: int = 0  # random seed


@dataclass(frozen=True)
class WordLanguageConfig:
    """Which language is a word: a character BiGRU beside naive Bayes (pipeline.wordlang)."""

    languages: tuple[str, ...] = ()  # word lists used (empty: all of pipeline.wordlang.sources)
    train_per_language: int = 20_000  # most training words per language
    dev_per_language: int = 2_000  # most dev words per language (early stopping, NB smoothing)
    test_per_language: int = 2_000  # most test words per language
    min_chars: int = 2  # shorter list words are dropped
    max_chars: int = 32  # longer list words are dropped; the export reads this many at most
    char_min_count: int = 5  # rarer training characters share the UNK id
    cell: str = "keras_gru"  # recurrent cell, any pipeline.rnn kind, run in both directions
    layers: int = 1  # stacked bidirectional layers
    embed_dim: int = 32  # character embedding size
    units: int = 64  # recurrent state size per direction
    dropout: float = 0.2  # dropout rate on the final states
    batch_size: int = 256  # words per training step, all of one length
    learning_rate: float = 3e-3  # Adam step size
    epochs: int = 5  # most epochs; the best dev-loss epoch's weights are kept
    patience: int = 2  # epochs without a better dev loss before stopping
    ngram_max: int = 4  # naive Bayes: character n-grams of 1 to this many characters
    nb_alphas: tuple[float, ...] = (0.01, 0.03, 0.1, 0.3, 1.0)  # NB smoothing values tried on dev
    seed: int = 0  # random seed


@dataclass(frozen=True)
class LstmVariantsConfig:
    """Greff et al.'s LSTM variants, each trained alike on the character-level language model."""

    variants: tuple[str, ...] = ()  # LSTM variants trained (empty: all of rnn.cells.LSTM_VARIANTS)
    seeds: int = 3  # runs per variant, seeds 0, 1, ...: initial weights and batch order
    corpus_lines: int = 20_000  # English corpus lines read, from the start (0: all)
    held_out: int = 1000  # of those, the last lines, kept out of training for bits per character
    char_min_count: int = 20  # fewest occurrences for a character to be kept (others: UNK)
    embed_dim: int = 32  # character embedding size
    units: int = 128  # LSTM state size
    max_len: int = 48  # characters per training and held-out line
    batch_size: int = 64  # lines per training step
    steps: int = 100  # training steps of every run
    curve_every: int = 10  # steps per point of the training curves
    learning_rate: float = 3e-3  # Adam step size
    clipnorm: float = 1.0  # gradient norm bound per variable
    small: float = 0.02  # bits per character from vanilla that count as "costs little"


@dataclass(frozen=True)
class Preset:
    data: DataConfig
    tokenize: TokenizeConfig
    lm: LMConfig = LMConfig()
    embeddings: EmbeddingsConfig = EmbeddingsConfig()
    translate: TranslateConfig = TranslateConfig()
    sentiment: SentimentConfig = SentimentConfig()
    gradients: GradientsConfig = GradientsConfig()
    word_language: WordLanguageConfig = WordLanguageConfig()
    lstm_variants: LstmVariantsConfig = LstmVariantsConfig()


PRESETS: dict[str, Preset] = {
    "smoke": Preset(
        DataConfig(n_test=3, n_dev=3, n_loc_test=2, n_loc_dev=2, n_folds=2, min_corpus_tokens=0),
        TokenizeConfig(
            corpus_min_count=1, translate_min_count=1, translate_subword_size=400, batch_size=16
        ),
        LMConfig(
            vocab_size=200,
            char_min_count=1,
            embed_dim=16,
            units=32,
            num_sampled=0,
            max_len=16,
            char_max_len=64,
            batch_size=8,
            epochs=2,
            steps_per_epoch=5,
            char_steps_per_epoch=5,
            held_out=4,
            val_sentences=4,
            sample_max_len=12,
        ),
        EmbeddingsConfig(
            dim=8,
            window=2,
            epochs=2,
            batch_size=64,
            glove_epochs=5,
            glove_batch_size=64,
            analogy_restrict=100,
        ),
        TranslateConfig(
            embed_dim=16,
            units=16,
            attention_units=16,
            dropout=0.0,
            max_len=12,
            batch_size=4,
            epochs=2,
            steps_per_epoch=4,
            max_minutes=0.0,
            save_every=2,
            shuffle_buffer=100,
        ),
        SentimentConfig(units=8, max_len=16, batch_size=4, epochs=2, patience=1),
        gradients=GradientsConfig(
            toy_length=50,
            vocab_size=30,
            embed_dim=8,
            units=8,
            seq_len=12,
            batch_size=4,
            steps=3,
            probe_windows=4,
            eval_windows=8,
            held_out=20,
        ),
        word_language=WordLanguageConfig(
            train_per_language=40,
            dev_per_language=8,
            test_per_language=8,
            char_min_count=1,
            embed_dim=8,
            units=8,
            batch_size=8,
            epochs=2,
            nb_alphas=(0.1, 1.0),
        ),
        lstm_variants=LstmVariantsConfig(
            variants=("vanilla", "cifg"),
            seeds=2,
            corpus_lines=0,
            held_out=4,
            char_min_count=1,
            embed_dim=8,
            units=8,
            max_len=32,
            batch_size=4,
            steps=4,
            curve_every=2,
        ),
    ),
    "default": Preset(DataConfig(), TokenizeConfig()),
    "full": Preset(
        DataConfig(),
        TokenizeConfig(corpus_min_count=3, corpus_max_size=300_000, translate_min_count=1),
        LMConfig(
            vocab_size=50_000,
            layers=2,
            embed_dim=256,
            units=1024,
            dropout=0.3,
            batch_size=128,
            epochs=20,
            steps_per_epoch=2000,
            num_sampled=4096,
        ),
        translate=TranslateConfig(
            encoder_layers=2,
            embed_dim=256,
            units=512,
            attention_units=512,
            dropout=0.3,
            max_len=50,
            batch_size=128,
            learning_rate=5e-4,
            epochs=40,
            steps_per_epoch=1000,
            max_minutes=0.0,
            patience=4,
            save_every=500,
        ),
    ),
}


def override(config: T, **values: Any) -> T:
    """``config`` with the given fields replaced, ignoring values left at None (unset flags)."""
    names = {f.name for f in fields(config)}  # type: ignore[arg-type]
    return replace(config, **{k: v for k, v in values.items() if k in names and v is not None})  # type: ignore[type-var]
