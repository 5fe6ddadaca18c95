"""The stage kit: flags built from a config dataclass, and the shell every main() runs in."""

from __future__ import annotations

import argparse
import dataclasses
import importlib
import logging
import re
from dataclasses import dataclass

import pytest

from pipeline import config as cfg
from pipeline.stage import config_args, field_comments, run_stage, stage_parser


@dataclass(frozen=True)
class Toy:
    rate: float = 0.5  # how fast it learns
    steps: int = 3
    name: str = "a"  # which one; "b" is the other
    fast: bool = True  # take the short way
    langs: tuple[str, ...] = ("de", "en")
    sizes: tuple[int, ...] = (
        1, 2,
    )  # fmt: skip
    kinds: tuple[str, ...] = (  # what it is made of
        "wood", "glue",
    )  # fmt: skip


def toy_parser(**flags) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="toy")
    config_args(parser, Toy, **flags)
    return parser


def helps(parser: argparse.ArgumentParser) -> dict[str, str | None]:
    return {a.dest: a.help for a in parser._actions if a.dest != "help"}


def test_a_trailing_comment_is_the_help_and_a_pragma_is_not():
    assert field_comments(Toy) == {
        "rate": "how fast it learns",
        "name": 'which one; "b" is the other',
        "fast": "take the short way",
        "kinds": "what it is made of",
    }
    assert helps(toy_parser()) == {
        "rate": "how fast it learns",
        "steps": None,
        "name": 'which one; "b" is the other',
        "fast": "take the short way",
        "langs": "comma-separated",
        "sizes": "comma-separated",
        "kinds": "what it is made of (comma-separated)",
    }


def test_each_kind_of_field_parses_and_overrides_the_preset():
    argv = ["--rate", "0.1", "--steps", "7", "--name", "b", "--no-fast", "--langs", "pt,en"]
    args = toy_parser().parse_args([*argv, "--sizes", "4,,5"])
    assert cfg.override(Toy(), **vars(args)) == Toy(0.1, 7, "b", False, ("pt", "en"), (4, 5))
    args = toy_parser().parse_args(["--fast", "--langs", ""])
    assert cfg.override(Toy(fast=False), **vars(args)) == Toy(fast=True, langs=())


def test_an_unset_flag_keeps_the_presets_value():
    preset = Toy(rate=0.9, steps=1, name="c", fast=False, langs=("x",), sizes=(8,))
    assert cfg.override(preset, **vars(toy_parser().parse_args([]))) == preset


@pytest.mark.parametrize(
    ("argv", "error"),
    [
        (["--steps", "x"], "argument --steps: invalid int value: 'x'"),
        (["--sizes", "1,x"], "argument --sizes: invalid comma-separated int value: '1,x'"),
        (["--name", "z"], "argument --name: invalid choice: 'z'"),
    ],
)
def test_a_bad_value_is_refused_by_the_parser(argv, error, capsys):
    with pytest.raises(SystemExit) as stop:
        toy_parser(choices={"name": ("a", "b")}).parse_args(argv)
    assert stop.value.code == 2
    assert error in capsys.readouterr().err


def test_a_stage_chooses_its_fields_their_help_and_choices():
    parser = toy_parser(only=("rate", "name"), help={"rate": "step size"}, choices={"name": "ab"})
    assert helps(parser) == {"rate": "step size", "name": 'which one; "b" is the other'}
    assert next(a for a in parser._actions if a.dest == "name").choices == ("a", "b")
    with pytest.raises(TypeError, match=r"Toy has no fields \['speed'\]"):
        toy_parser(help={"speed": "a typo"})


def shell(argv: list[str], work, tmp_path, **options) -> int:
    parser = stage_parser("pipeline.toy.__main__", "Toy stage.\n\nMore.", cfg.LMConfig)
    args = parser.parse_args(["--reports-dir", str(tmp_path), *argv])
    return run_stage(
        args, work, logging.getLogger("pipeline.toy"), writes=lambda p: (p.reports,), **options
    )


def test_the_shell_overrides_the_preset_and_prints_what_the_stage_returns(tmp_path, capsys):
    seen = []

    def work(args, paths, config):
        seen.append((paths.reports, config))
        return "done"

    assert shell(["--preset", "smoke", "--units", "7"], work, tmp_path, config="lm") == 0
    assert seen == [(tmp_path, dataclasses.replace(cfg.PRESETS["smoke"].lm, units=7))]
    assert capsys.readouterr().out == "done\n"


def test_an_expected_error_is_one_log_line_and_its_exit_code(tmp_path, caplog, capsys):
    def work(args, paths, config):
        raise FileNotFoundError("no corpus at data/processed; run `make tokenize` first")

    with caplog.at_level(logging.INFO):
        assert shell([], work, tmp_path) == 1
        assert shell([], work, tmp_path, expected={OSError: 4}) == 4
    assert [(r.name, r.levelname, r.getMessage()) for r in caplog.records] == [
        ("pipeline.toy", "ERROR", "no corpus at data/processed; run `make tokenize` first")
    ] * 2
    assert capsys.readouterr().out == ""


def test_an_unexpected_error_and_an_unwritable_folder(tmp_path):
    def work(args, paths, config):
        raise KeyError("a bug")

    with pytest.raises(KeyError):
        shell([], work, tmp_path)
    (tmp_path / "taken").write_text("a file")
    assert shell(["--reports-dir", str(tmp_path / "taken")], pytest.fail, tmp_path) == 1


# Every stage built on the kit, and the config whose fields all become its flags.
STAGES = [
    ("pipeline.data.__main__", cfg.DataConfig),
    ("pipeline.encode", cfg.TokenizeConfig),
    ("pipeline.lm.train", cfg.LMConfig),
    ("pipeline.embeddings.train", cfg.EmbeddingsConfig),
    ("pipeline.embeddings.bench", None),
    ("pipeline.embeddings.evaluate", None),
    ("pipeline.embeddings.export", None),
    ("pipeline.sentiment.train", cfg.SentimentConfig),
    ("pipeline.translate.train", cfg.TranslateConfig),
    ("pipeline.translate.bench", None),
    ("pipeline.translate.bleu", None),
    ("pipeline.translate.error_analysis", None),
    ("pipeline.translate.export", None),
]


@pytest.mark.parametrize(("module", "config_class"), STAGES)
def test_every_stage_has_help_with_a_flag_per_config_field(module, config_class, capsys):
    stage = importlib.import_module(module)
    with pytest.raises(SystemExit) as stop:
        stage.main(["--help"])
    assert stop.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith(f"usage: python -m {module.removesuffix('.__main__')} ")
    assert stage.__doc__.split("\n\n")[0].split()[-1] in out  # the docstring's claim
    for field in dataclasses.fields(config_class) if config_class else ():
        flag = re.escape(f"--{field.name.replace('_', '-')}")
        assert re.search(rf"(?<![\w-]){flag}(?![\w-])", out), flag
