"""gettext catalogues: the .mo reader on catalogues in the real binary format, and cleaning."""

from __future__ import annotations

import pytest
from fixtures_archives import make_deb, make_mo

from pipeline.config import DataConfig, Paths
from pipeline.data import __main__ as data_stage
from pipeline.data import build, catalogues, ding
from pipeline.data.archives import ArchiveError
from pipeline.data.ding import Pair
from pipeline.data.registry import ARTIFACTS, CATALOGUE_PACKAGES


def test_plural_forms_pair_with_msgid_plural_and_msgctxt_is_split_off():
    blob = make_mo(
        {
            "%d file\0%d files": ["%d Datei", "%d Dateien"],
            "menu\x04_Open": "_Öffnen",
            "toolbar\x04%d item\0%d items": ["%d Eintrag", "%d Einträge"],
        }
    )
    assert sorted(catalogues.read_catalogue(blob)) == [
        ("", "%d file", "%d Datei"),
        ("", "%d files", "%d Dateien"),
        ("menu", "_Open", "_Öffnen"),
        ("toolbar", "%d item", "%d Eintrag"),
        ("toolbar", "%d items", "%d Einträge"),
    ]


def test_the_declared_charset_decodes_the_catalogue():
    blob = make_mo({"Size": "Größe"}, charset="ISO-8859-1")
    assert "Größe".encode("latin-1") in blob
    assert catalogues.read_catalogue(blob) == [("", "Size", "Größe")]


KEPT = object()


@pytest.mark.parametrize(
    ("msgid", "msgstr", "expected"),
    [
        ("_Open", "Ö_ffnen", ("Open", "Öffnen")),
        ("&Save", "&Speichern", ("Save", "Speichern")),
        ("Save ~As...", "Speichern ~unter...", ("Save As...", "Speichern unter...")),
        ("Drag && Drop", "Ziehen && Ablegen", ("Drag & Drop", "Ziehen & Ablegen")),
        ("_3D Look", "_3D-Darstellung", ("3D Look", "3D-Darstellung")),
        ("R&amp;D &lt;new&gt;", "F&amp;E &lt;neu&gt;", ("R&D <new>", "F&E <neu>")),
        ("<b>Bold</b> text", "<b>Fetter</b> Text", ("Bold text", "Fetter Text")),
        ("One\nline two", "Eine\n\nZeile zwei", ("One line two", "Eine Zeile zwei")),
        # placeholders stay as written (the underscore of {file_name} is no marker)
        ("Open {file_name}", "{file_name} öffnen", KEPT),
        ("%s of %d", "%d von %s", KEPT),
        ("Copy %1$s to %2$s", "%2$s nach %1$s kopieren", KEPT),
        ("Start %PRODUCTNAME", "%PRODUCTNAME starten", KEPT),
        ("$(ARG1) rows", "$(ARG1) Zeilen", KEPT),
        ("Quit", "", "empty"),
        ("Quit", "  ", "empty"),
        ("GNOME", "GNOME", "untranslated"),
        ("_Help", "_help", "untranslated"),  # the same once markers and case are ignored
        ("translator-credits", "Erika Mustermann <erika@example.org>", "translator credits"),
        ("<b></b>", "<b></b>", "no letters"),
        ("%s: %s", "%s: %s", "no letters"),
        ("Delete %s", "Löschen", "placeholder mismatch"),
        ("%d of %d", "%d von %s", "placeholder mismatch"),
        ("{name} saved", "{Name} gespeichert", "placeholder mismatch"),
        ("OK", "Dies ist eine viel zu lange Übersetzung", "length ratio"),
        ("OK", "Einverstanden", KEPT),  # short messages get slack
    ],
)  # fmt: skip
def test_clean_pair(msgid, msgstr, expected):
    expected = (msgid, msgstr) if expected is KEPT else expected
    assert catalogues.clean_pair("", msgid, msgstr) == expected


def test_translator_names_under_their_kde_context_are_dropped():
    assert catalogues.clean_pair("NAME OF TRANSLATORS", "Your names", "Erika") == (
        "translator credits"
    )


def _package(path, catalogue: dict, **members: bytes):
    return make_deb(path, {"usr/share/locale/de/LC_MESSAGES/app.mo": make_mo(catalogue), **members})


def test_a_package_yields_clean_unique_pairs_and_counts_the_rest(tmp_path):
    first = _package(
        tmp_path / "a.deb",
        {"_Open": "Ö_ffnen", "&Open": "Ö&ffnen", "Quit": "", "%s": "%s"},
        **{
            # LibreOffice's resource path, another language, and a damaged catalogue
            "usr/lib/libreoffice/program/resource/de/LC_MESSAGES/sw.mo": make_mo({"Page": "Seite"}),
            "usr/share/locale/fr/LC_MESSAGES/app.mo": make_mo({"Page": "Page"}),
            "usr/share/locale/de/LC_MESSAGES/broken.mo": b"\x00" * 40,
        },
    )
    second = _package(tmp_path / "b.deb", {"Page": "Seite", "Close": "Schließen"})
    pairs, stats = catalogues.read_packages({"a": first, "b": second})
    assert pairs == [
        Pair("Öffnen", "Open", "catalogue"),
        Pair("Seite", "Page", "catalogue"),
        Pair("Schließen", "Close", "catalogue"),
    ]
    assert stats["a"].as_dict() == {
        "catalogues": 3,
        "messages": 5,
        "kept": 2,
        "dropped": {
            "duplicate": 1,
            "empty": 1,
            "no letters": 1,
            "unreadable catalogue": 1,
        },
    }
    assert stats["b"].as_dict()["dropped"] == {"duplicate": 1}  # "Page" was seen in a


def test_a_corrupt_package_names_the_file_and_the_fix(tmp_path):
    deb = _package(tmp_path / "c.deb", {"Page": "Seite"})
    deb.write_bytes(deb.read_bytes()[:-200])
    with pytest.raises(ArchiveError, match=r"c\.deb is corrupt or truncated .*Delete it and run"):
        catalogues.read_packages({"c": deb})


def test_localization_splits_share_no_key_with_any_train_pair():
    loc_msgs = [
        Pair(f"Die Datei {i} wurde gespeichert.", f"File {i} was saved.", "catalogue")
        for i in range(40)
    ]
    # each loc message also appears as a Ding phrase, with another translation, and a
    # catalogue repeats every Ding sentence
    ding_pairs = [
        *(Pair(f"Das ist Satz {i}.", f"This is sentence {i}.", "sentence") for i in range(40)),
        *(Pair(p.de, f"the file {i} is saved", "phrase") for i, p in enumerate(loc_msgs)),
        *(Pair(f"Wort{i}", p.en, "lexical") for i, p in enumerate(loc_msgs)),
    ]
    copies = [p._replace(kind="catalogue") for p in ding_pairs if p.kind == "sentence"]
    config = DataConfig(n_test=5, n_dev=4, n_loc_test=6, n_loc_dev=3)
    splits = build._split_translate(ding_pairs, loc_msgs + copies, config)
    key = ding.sentence_key
    loc_held = {p.de for p in splits["loc_dev"] + splits["loc_test"]}
    assert len({key(p.de) for p in splits["loc_test"]}) == 6
    assert len({key(p.de) for p in splits["loc_dev"]}) == 3
    for held in ("dev", "test", "loc_dev", "loc_test"):
        de_keys, en_keys = ding.held_keys(splits[held])
        assert not any(key(p.de) in de_keys or key(p.en) in en_keys for p in splits["train"]), held
    # what the held-out sets removed from train, and nothing else
    train_de = {p.de for p in splits["train"]}
    held_msgs = loc_held & {p.de for p in loc_msgs}
    assert held_msgs and loc_held - held_msgs  # both messages and sentence copies held out
    assert {p.de for p in ding_pairs if p.kind == "phrase"} - train_de == held_msgs
    assert sum(p.kind == "lexical" for p in splits["train"]) == 40 - len(held_msgs)
    assert all(p.kind == "catalogue" for p in splits["loc_dev"] + splits["loc_test"])
    # a Ding sentence held out as a localization message leaves Ding's train, and a catalogue
    # copy of a Ding dev/test sentence leaves the catalogue's
    ding_held = {p.de for p in splits["dev"] + splits["test"]}
    sentences = {p.de for p in ding_pairs if p.kind == "sentence"}
    assert sentences - {p.de for p in splits["train"] if p.kind == "sentence"} == (
        ding_held | (loc_held - held_msgs)
    )
    assert {p.de for p in copies} - {p.de for p in splits["train"] if p.kind == "catalogue"} == (
        ding_held | (loc_held - held_msgs)
    )


def test_only_sentence_like_messages_are_held_out():
    assert catalogues.is_sentence_like(Pair("Die Datei ist weg.", "The file is gone.", "catalogue"))
    assert not catalogues.is_sentence_like(Pair("Datei öffnen", "Open the file now", "catalogue"))


def test_an_unknown_catalogue_package_is_refused_before_any_fetch(tmp_path):
    paths = Paths(data=tmp_path / "data", reports=tmp_path / "reports")
    config = DataConfig(catalogues=("vlc-l10n", "no-such-package"))
    with pytest.raises(ValueError, match=r"unknown catalogue packages \['no-such-package'\]"):
        data_stage.run(paths, config)
    assert not paths.data.exists()


def test_every_catalogue_package_is_a_pinned_debian_artifact():
    assert len(CATALOGUE_PACKAGES) == 83 and "libreoffice-l10n-de" in CATALOGUE_PACKAGES
    for name in CATALOGUE_PACKAGES:
        artifact = ARTIFACTS[name]
        assert artifact.registry == "debian" and len(artifact.sha256) == 64
        epochless = artifact.version.split(":")[-1]
        assert artifact.filename.startswith(f"{artifact.package}_") and epochless in (
            artifact.filename
        ), name
