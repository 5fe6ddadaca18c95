"""One loading path for our datasets and public TFDS ones (tested offline with mock data)."""

import pytest
import tensorflow_datasets as tfds

from pipeline.data.load import is_local, load


@pytest.mark.parametrize(
    ("name", "features"),
    [("imdb_reviews", {"text", "label"}), ("ted_hrlr_translate/pt_to_en", {"pt", "en"})],
)
def test_public_datasets_load_by_name(name, features, tmp_path):
    assert not is_local(name)
    with tfds.testing.mock_data(num_examples=3, policy=tfds.testing.MockPolicy.USE_CODE):
        dataset = load(name, "train", data_dir=tmp_path)
        assert set(dataset.element_spec) == features
        assert len(list(dataset)) == 3


def test_local_dataset_not_built_says_run_make_data(tmp_path):
    assert is_local("de_en_translate") and is_local("word_similarity/simlex999")
    with pytest.raises(FileNotFoundError, match="make data"):
        load("de_en_translate", "train", data_dir=tmp_path)
