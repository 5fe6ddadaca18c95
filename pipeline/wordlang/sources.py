"""Debian's word lists (``/usr/share/dict``), pinned like the corpora of :mod:`pipeline.data`.

Each list ships in its own ``w<language>`` package. The stage fetches only the packages of the
languages it is asked for, through :func:`pipeline.data.registry.fetch` (``apt-get download``,
sha256-verified into ``data/raw``); they are not part of ``make data``. Two lists are Latin-1
(Swedish, Norwegian Bokmål), the rest UTF-8; each is decoded strictly with its own encoding.
wnorwegian holds Bokmål and Nynorsk: only Bokmål is read, as two written standards of one
language would make a pair no word could separate.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from pipeline.data.archives import ArchiveError
from pipeline.data.registry import Artifact, FetchError, fetch


@dataclass(frozen=True)
class WordList:
    """Where one language's words are: a member of a pinned package, in an encoding."""

    code: str  # ISO 639-1, the label the model returns
    name: str  # English name, for reports
    artifact: str  # key of ARTIFACTS
    member: str  # the list's path inside the .deb
    encoding: str


ARTIFACTS: dict[str, Artifact] = {
    a.name: a
    for a in [
        Artifact(
            "wbritish", "debian", "wbritish", "2020.12.07-2",
            "wbritish_2020.12.07-2_all.deb",
            "f80571f14aa987ef0d727e2077d4f2abd84adf92492af494e7de04882c53be3f",
            "SCOWL (permissive, see /usr/share/doc/wbritish/copyright)",
        ),
        Artifact(
            "wngerman", "debian", "wngerman", "20161207-11",
            "wngerman_20161207-11_all.deb",
            "9053a69641bcf59233055f1b3ca341046751534b2b32d1e32c67b23ab9b98fec",
            "GPL-2+",
        ),
        Artifact(
            "wfrench", "debian", "wfrench", "1.2.7-2",
            "wfrench_1.2.7-2_all.deb",
            "a5cbe63b988adbdb973983aab5b76fe2b715e9a37b012f31ad1e925b1a4b4c29",
            "GPL-2+",
        ),
        Artifact(
            "witalian", "debian", "witalian", "1.10",
            "witalian_1.10_all.deb",
            "dc6eb1423726ce838332936db078406b646d0f3773701a5b1566a68495ddf076",
            "GPL-3+",
        ),
        Artifact(
            "wdutch", "debian", "wdutch", "1:2.20.19-2",
            "wdutch_1%3a2.20.19-2_all.deb",
            "79dc0dbbd9b3e029ba84423a804c635aca87105521962f9b4c3023399c94dc35",
            "BSD-3-clause or CC-BY-3.0 (OpenTaal)",
        ),
        Artifact(
            "wportuguese", "debian", "wportuguese", "20220621-1",
            "wportuguese_20220621-1_all.deb",
            "82d6aeca20d072bbe962db68e4c50d3cce76ecb12295608692dff4638daec2a0",
            "GPL-2+ or LGPL-2.1+ or MPL-1.1",
        ),
        Artifact(
            "wspanish", "debian", "wspanish", "1.0.30",
            "wspanish_1.0.30_all.deb",
            "a2b7504fb8c12deaf6c4e868f749a3d05a42caee348f0f5bb006238e925cde18",
            "public domain (word list)",
        ),
        Artifact(
            "wcatalan", "debian", "wcatalan", "0.20111230b-14",
            "wcatalan_0.20111230b-14_all.deb",
            "2c40d465aeb050749f05849cf8512011214a99224ed5ee993d9930a33eb0e603",
            "GPL-2+",
        ),
        Artifact(
            "wswedish", "debian", "wswedish", "1.4.5-3",
            "wswedish_1.4.5-3_all.deb",
            "be46153a738e7db1e4c8f1212e850197da4ab50c5edc543b3fb48d908b8d9f2a",
            "GPL-2+",
        ),
        Artifact(
            "wdanish", "debian", "wdanish", "1.6.36-14",
            "wdanish_1.6.36-14_all.deb",
            "221d3ee8bb0fb84559473687224c746fb1c392330e4142c3f24517ab8e8ad980",
            "GPL-2+",
        ),
        Artifact(
            "wnorwegian", "debian", "wnorwegian", "2.2-4",
            "wnorwegian_2.2-4_all.deb",
            "570ad89de30238d31919f8d786a0019c48c7c750d5991fbc86671e4cfb384dfb",
            "GPL-2+",
        ),
        Artifact(
            "wpolish", "debian", "wpolish", "20220301-1",
            "wpolish_20220301-1_all.deb",
            "78d94681b9838aeb8419629d5ce378085e0db6a22517c3c170aa883451cc9ccf",
            "GPL-2 or LGPL-2.1 or MPL-1.1 or Apache-2.0 or CC-BY-4.0",
        ),
    ]
}  # fmt: skip

WORD_LISTS: dict[str, WordList] = {
    w.code: w
    for w in [
        WordList("en", "English", "wbritish", "usr/share/dict/british-english", "utf-8"),
        WordList("de", "German", "wngerman", "usr/share/dict/ngerman", "utf-8"),
        WordList("fr", "French", "wfrench", "usr/share/dict/french", "utf-8"),
        WordList("it", "Italian", "witalian", "usr/share/dict/italian", "utf-8"),
        WordList("nl", "Dutch", "wdutch", "usr/share/dict/dutch", "utf-8"),
        WordList("pt", "Portuguese", "wportuguese", "usr/share/dict/portuguese", "utf-8"),
        WordList("es", "Spanish", "wspanish", "usr/share/dict/spanish", "utf-8"),
        WordList("ca", "Catalan", "wcatalan", "usr/share/dict/catalan", "utf-8"),
        WordList("sv", "Swedish", "wswedish", "usr/share/dict/swedish", "latin-1"),
        WordList("da", "Danish", "wdanish", "usr/share/dict/danish", "utf-8"),
        WordList("no", "Norwegian Bokmål", "wnorwegian", "usr/share/dict/bokmaal", "latin-1"),
        WordList("pl", "Polish", "wpolish", "usr/share/dict/polish", "utf-8"),
    ]
}
LANGUAGES: tuple[str, ...] = tuple(WORD_LISTS)

# The registry's and the archive reader's errors name the data stage; these lists belong to
# this stage, so its errors say how to redo this one.
_STAGE_HINTS = {
    "`make data`": "`make word-language`",
    "pipeline/data/registry.py": "pipeline/wordlang/sources.py",
}


def for_this_stage(err: FetchError | ArchiveError) -> FetchError | ArchiveError:
    """The same error, its advice pointing at ``make word-language`` and this module."""
    text = str(err)
    for old, new in _STAGE_HINTS.items():
        text = text.replace(old, new)
    return type(err)(text)


def chosen(codes: tuple[str, ...]) -> list[str]:
    """``codes`` (empty: every language), refusing unknown ones before anything is fetched."""
    unknown = sorted(set(codes) - set(LANGUAGES))
    if unknown:
        raise ValueError(
            f"unknown word-list languages {unknown}; choose from {', '.join(LANGUAGES)}"
        )
    if codes and len(set(codes)) < 2:
        raise ValueError(f"a language classifier needs at least two languages, got {codes}")
    return list(dict.fromkeys(codes)) or list(LANGUAGES)


def fetch_lists(
    codes: list[str], raw_dir: Path, artifacts: Mapping[str, Artifact] = ARTIFACTS
) -> dict[str, Path]:
    """The verified package of each language's list under ``raw_dir``, fetched if absent."""
    archives = {}
    for code in codes:
        try:
            archives[code] = fetch(artifacts[WORD_LISTS[code].artifact], raw_dir)
        except FetchError as err:
            raise for_this_stage(err) from err
    return archives
