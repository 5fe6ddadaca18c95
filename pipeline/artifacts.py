"""The name of every file and folder one stage writes and another reads (the Makefile's too)."""

from __future__ import annotations

from pathlib import Path

from pipeline.config import USER_RUNS, Paths, TranslateConfig

# -- data/processed: what says the data and tokenize stages ran (pipeline.stamps) -------------


def manifest(paths: Paths, stage: str) -> Path:
    """Written last by ``stage`` (``data``, ``tokenize``): its run completed."""
    return paths.processed / f"{stage}_manifest.json"


def stamp(paths: Paths, stage: str) -> Path:
    """A digest of ``stage``'s outputs; later stages' make rules depend on it."""
    return paths.processed / f"{stage}.stamp"


def outputs_listing(paths: Paths, stage: str) -> Path:
    """``stage``'s outputs as a make variable, included by the Makefile."""
    return paths.processed / f"{stage}_outputs.mk"


# -- a named run's own data (pipeline.userdata), below the run's data/processed/user/<run> ----

USER_KINDS = ("corpus", "labeled", "parallel")  # also the run's manifest and stamp names


def user_input(paths: Paths, kind: str) -> Path:
    """The user's ``kind`` files, normalized to TSV: the folder its TFDS builder reads."""
    return paths.processed / "input" / kind


def user_datasets(paths: Paths, kind: str) -> Path:
    """The ``data_dir`` of the run's ``kind`` TFDS dataset (the built-in ones stay shared)."""
    return paths.tfds / USER_RUNS / paths.run / kind


# A run's labeled text (pipeline.userdata.labeled) is encoded under MR's names below (the
# records, the vocabulary), so the sentiment stage reads a run as it reads MR, plus these:
LABELED_INFO = "polarity/labeled.json"  # class names in label order, the word vectors' folder
LABELED_TEST_RECORDS = "polarity/test.tfrecord"  # the TEST file's records, when one was given


# -- the tokenize stage's outputs (pipeline.encode), relative to data/processed ---------------

CORPUS_VOCAB = "vocab/corpus_en.txt"
CORPUS_IDS = "corpus/ids.npy"
POLARITY_VOCAB = "vocab/polarity_en.txt"
POLARITY_RECORDS = "polarity/mr.tfrecord"
SUBWORD_MODEL = "vocab/translate_subwords.model"
UNITS = ("subword", "word")  # the two encodings of the translation records
# Our names of the translation splits -> the TFDS split names.
TFDS_SPLIT = {
    "train": "train",
    "dev": "validation",
    "test": "test",
    "loc_dev": "loc_validation",
    "loc_test": "loc_test",
}
LOCALIZATION_SPLITS = ("loc_dev", "loc_test")  # only corpora with localization messages


def vocab_file(lang: str) -> str:
    """The word vocabulary of one translation language."""
    return f"vocab/translate_{lang}.txt"


def translate_records(units: str, split: str) -> str:
    """The id records of one split in one encoding (``subword`` or ``word``)."""
    return f"translate/{units}/{split}.tfrecord"


# -- trained word vectors (pipeline.embeddings.keyed_vectors) ---------------------------------

WORDS_FILE = "words.txt"
VECTORS_FILE = "vectors.npy"


def vectors_root(paths: Paths, vectors_dir: Path | None = None) -> Path:
    """``--vectors-dir``, or where ``make`` keeps the trained vectors."""
    return vectors_dir or paths.processed / "embeddings"


def embedding_dir(paths: Paths, model: str, vectors_dir: Path | None = None) -> Path:
    """One model's ``WORDS_FILE`` and ``VECTORS_FILE`` (a ``KeyedVectors.save`` folder)."""
    return vectors_root(paths, vectors_dir) / model


# -- a trained translator: runs/translate/<run>/best (pipeline.translate.saved) ---------------

DEFAULT_RUN = "de-en"  # the run the Makefile's translation targets name
BEST = "best"  # the run's folder of the best weights and the codec, what decoding loads
# The files in it: the settings, the weights checkpoint and the codec's copied files.
MODEL_META = "translator.json"
MODEL_WEIGHTS = "ckpt"
MODEL_SOURCE_VOCAB = "source_vocab.txt"
MODEL_TARGET_VOCAB = "target_vocab.txt"
MODEL_SUBWORDS = "subwords.model"
# Beside BEST: the run's own checkpoints (weights, optimizer, step), the last ones averaged.
RUN_CHECKPOINTS = "ckpt"


def run_name(config: TranslateConfig) -> str:
    """``de-en`` for the default subword model, ``de-en-word`` for the word-level one."""
    suffix = "" if config.tokens == "subword" else f"-{config.tokens}"
    return f"{config.source}-{config.target}{suffix}"


def run_dir(paths: Paths, config: TranslateConfig) -> Path:
    return paths.runs / "translate" / run_name(config)


def run_of(model_dir: Path) -> str:
    """The run a trained model folder belongs to: its parent's for ``best``, else its own."""
    return model_dir.parent.name if model_dir.name == BEST else model_dir.name


def run_report(name: str, run: str, default: str = DEFAULT_RUN) -> str:
    """``name`` for the default run's report, ``name_<run>`` for another's (``bleu_de_en_word``).

    The default run is ``de-en`` in the embedded pipeline; a named run of the user's parallel
    text passes its own language pair's (``en-de``: ``reports/user/<run>/bleu.json``).
    """
    return name if run == default else f"{name}_{run.replace('-', '_')}"


# -- SavedModels and reports -------------------------------------------------------------------

EMBEDDINGS = "embeddings"  # the SavedModel and the evaluation report
TRANSLATOR = "translator"
GRADIENTS = "gradients"  # the gradients lesson's report, and its plot beside it (.png)
WORD_LANGUAGE = "word_language"  # the SavedModel and the report of pipeline.wordlang
WORD_LANGUAGE_CONFUSION = "word_language_confusion.png"  # its confusion matrices, in reports/
LSTM_VARIANTS = "lstm_variants"  # the LSTM variants lesson's report, and its plot beside it (.png)
TRANSLATE_AVERAGING = "translate_averaging"  # dev BLEU of the averaged checkpoints


def lm_name(level: str) -> str:
    """The language model's SavedModel, report and run folder: ``lm``, ``lm_char``."""
    return "lm" if level == "word" else f"lm_{level}"


def sentiment_name(dataset: str) -> str:
    """The classifier's SavedModel, report and run folder: ``sentiment`` for MR."""
    return "sentiment" if dataset == "mr" else f"sentiment_{dataset.replace('/', '_')}"


def saved_model(paths: Paths, name: str, version: int = 1) -> Path:
    """A SavedModel version folder, ``saved_models/<name>/<version>``."""
    return paths.saved_models / name / str(version)


def report(paths: Paths, name: str) -> Path:
    """A stage's figures; some are the file the Makefile's rule for the stage targets."""
    return paths.reports / f"{name}.json"
