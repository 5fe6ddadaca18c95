import pytest

from pipeline.data import evalsets


def test_analogies_keep_sections():
    text = ": capital\nAthens Greece Baghdad Iraq\n\n: gram1\ngood better bad worse\n"
    assert evalsets.parse_analogies(text) == [
        evalsets.Analogy("capital", "Athens", "Greece", "Baghdad", "Iraq"),
        evalsets.Analogy("gram1", "good", "better", "bad", "worse"),
    ]


@pytest.mark.parametrize("text", ["Athens Greece Baghdad Iraq\n", ": s\nonly three words\n"])
def test_malformed_analogies_raise(text):
    with pytest.raises(ValueError, match="malformed"):
        evalsets.parse_analogies(text)


def test_similarity_skips_headers_and_rejects_garbage():
    text = "# title\n# Word 1\tWord 2\tHuman (mean)\nlove\tsex\t6.77\ntiger\tcat\t7.35\n"
    assert evalsets.parse_similarity(text) == [
        evalsets.SimilarityPair("love", "sex", 6.77),
        evalsets.SimilarityPair("tiger", "cat", 7.35),
    ]
    with pytest.raises(ValueError, match="line 1"):
        evalsets.parse_similarity("love\tsex\n")
