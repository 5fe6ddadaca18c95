import random

import pytest

from pipeline.data import ding


def parse(*lines: str) -> tuple[list[ding.Pair], ding.ParseStats]:
    return ding.parse(lines)


def test_sentences_phrases_and_notes():
    pairs, stats = parse(
        "# Version :: devel",
        "Haus {n} [arch.] | Das ist mein Haus (Wohnung). | ein großes Haus bauen :: "
        "house | That is my house. | to build a big house",
    )
    assert stats.comments == 1
    assert pairs == [
        ding.Pair("Haus", "house", "lexical"),
        ding.Pair("Das ist mein Haus.", "That is my house.", "sentence"),
        ding.Pair("ein großes Haus bauen", "to build a big house", "phrase"),
    ]


def test_synonyms_are_crossed_and_templates_dropped():
    pairs, stats = parse(
        "Ich gehe.; Ich laufe. | er/sie geht nach Hause :: "
        "I walk.; I am walking. | he/she goes home"
    )
    assert {(p.de, p.en) for p in pairs} == {
        ("Ich gehe.", "I walk."),
        ("Ich gehe.", "I am walking."),
        ("Ich laufe.", "I walk."),
        ("Ich laufe.", "I am walking."),
    }
    assert stats.templates == 1


def test_lexical_synonyms_pair_along_the_first_row_and_column():
    # a real Ding line: three German and two English synonyms give 3 + 2 - 1 pairs, not 6
    pairs, _ = parse(
        "Schlüssel {m}; Schlüsselwort {n}; Chiffre {f} | Schlüssel {pl} :: key; cipher | keys"
    )
    assert [(p.de, p.en, p.kind) for p in pairs] == [
        ("Schlüssel", "key", "lexical"),
        ("Schlüssel", "cipher", "lexical"),
        ("Schlüsselwort", "key", "lexical"),
        ("Chiffre", "key", "lexical"),
        ("Schlüssel", "keys", "lexical"),
    ]


def test_placeholders_leave_phrases_and_lexical_entries_but_not_sentences():
    pairs, stats = parse(
        "jdm. etw. geben; jdm. etw. schenken | jds. Freund | Gib es ihm (jdm.). | etw. :: "
        "to give sb. sth.; to give sth. to sb. | sb.'s friend | Give it to him. | sth.",
        "austauschen gegen etw. :: to exchange sth. for sth.",
        "Sag's jdm.! :: Tell sb.!",
    )
    assert [(p.de, p.en, p.kind) for p in pairs] == [
        # a phrase by its written form, so its synonyms are crossed
        ("geben", "to give", "phrase"),
        ("geben", "to give to", "phrase"),
        ("schenken", "to give", "phrase"),
        ("schenken", "to give to", "phrase"),
        ("Freund", "friend", "lexical"),
        ("Gib es ihm.", "Give it to him.", "sentence"),
        ("austauschen gegen", "to exchange for", "phrase"),
        ("Sag's jdm.!", "Tell sb.!", "sentence"),
    ]
    assert stats.placeholder_only == 1  # "etw. :: sth." is nothing but a slot


def test_nested_notes_are_stripped():
    assert ding.strip_notes("Er kam (spät (sehr)) an {vi} [ugs.].") == "Er kam an."


def test_lowercase_start_is_a_phrase_not_a_sentence():
    pairs, _ = parse("austauschen gegen etw. :: to exchange sth. for sth.")
    assert [p.kind for p in pairs] == ["phrase"]


def test_malformed_lines_are_counted_not_fatal():
    pairs, stats = parse(
        "no separator here.",
        "A | B :: only one side.",
        "Kaputt \ufffd. :: Broken.",
        "",
        "Das geht. :: That works.",
    )
    assert [p.de for p in pairs] == ["Das geht."]
    assert stats.malformed == {
        "no ' :: ' separator": 1,
        "sub-entry count mismatch": 1,
        "undecodable": 1,
        "empty": 1,
    }


def test_duplicates_kept_once_and_very_long_lines_survive():
    long_de = "Das " + "sehr " * 20_000 + "lange Wort."
    pairs, stats = parse("Ja. :: Yes.", "Ja. :: Yes.", f"{long_de} :: It is long.")
    assert stats.duplicates == 1
    assert [p.en for p in pairs] == ["Yes.", "It is long."]


def _corpus(n: int) -> list[ding.Pair]:
    pairs = [ding.Pair(f"Satz Nummer {i}.", f"Sentence number {i}.", "sentence") for i in range(n)]
    # a second translation of some sources, and phrases that collide with sentences
    pairs += [
        ding.Pair(f"Satz Nummer {i}.", f"Sentence no. {i}.", "sentence") for i in range(0, n, 7)
    ]
    pairs += [ding.Pair(f"satz nummer {i}.", f"phrase {i} here", "phrase") for i in range(0, n, 3)]
    pairs += [ding.Pair(f"frei {i} stehend", f"free {i} standing", "phrase") for i in range(50)]
    return pairs


def test_split_sizes_disjointness_and_determinism():
    pairs = _corpus(200)
    splits = ding.split(pairs, n_test=20, n_dev=10)
    key = ding.sentence_key
    assert len({key(p.de) for p in splits["test"]}) == 20
    assert len({key(p.de) for p in splits["dev"]}) == 10
    held = splits["test"] + splits["dev"]
    assert all(p.kind == "sentence" for p in held)
    held_de, held_en = {key(p.de) for p in held}, {key(p.en) for p in held}
    assert not any(key(p.de) in held_de or key(p.en) in held_en for p in splits["train"])
    # every translation of a held-out source goes with it
    for p in pairs:
        if p.kind == "sentence" and key(p.de) in held_de:
            assert p in held
    assert {key(p.de) for p in splits["test"]}.isdisjoint({key(p.de) for p in splits["dev"]})
    # phrases only in train; nothing lost except overlaps
    assert sum(p.kind == "phrase" for p in splits["train"]) > 50

    shuffled = pairs[:]
    random.Random(0).shuffle(shuffled)
    again = ding.split(shuffled, n_test=20, n_dev=10)
    for name in splits:
        assert sorted(again[name]) == sorted(splits[name])


def test_split_refuses_too_few_sentences():
    with pytest.raises(ValueError, match="cannot hold out"):
        ding.split(_corpus(10), n_test=8, n_dev=5)
