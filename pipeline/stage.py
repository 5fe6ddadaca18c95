"""A stage's command line: flags built from its config dataclass, and the shell every main() shares.

A config field is declared once, in pipeline/config.py: its flag takes its name and type from the
field and its help from the field's trailing comment, and an unset flag keeps the preset's value.
"""

from __future__ import annotations

import argparse
import ast
import functools
import inspect
import io
import logging
import os
import textwrap
import tokenize
from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import fields
from pathlib import Path
from typing import Any, get_args, get_origin, get_type_hints

from pipeline.config import PRESETS, Paths, check_run_name, override
from pipeline.io import check_writable

# Comments addressed to tools, not to the field's reader.
PRAGMAS = ("fmt:", "noqa", "type:")
# What bad input or a missing earlier stage raises: one log line and this exit code.
EXPECTED: Mapping[type[Exception], int] = {FileNotFoundError: 1, ValueError: 1}

# A stage's work: (parsed flags, output locations, preset config or None) -> text to print.
Work = Callable[[argparse.Namespace, Paths, Any], str | None]


def add_common_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--preset",
        choices=sorted(PRESETS),
        default="default",
        help="size preset (default: %(default)s)",
    )
    parser.add_argument(
        "--data-dir", type=Path, default=Paths.data, help="data root (default: %(default)s)"
    )
    parser.add_argument(
        "--reports-dir",
        type=Path,
        default=Paths.reports,
        help="reports folder (default: %(default)s)",
    )
    parser.add_argument(
        "--run",
        type=_run_name,
        metavar="NAME",
        help="a named run of your own data: its artifacts go to user/NAME below each folder "
        "(default: the embedded pipeline's)",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")


def _run_name(text: str) -> str:
    try:
        return check_run_name(text)
    except ValueError as err:
        raise argparse.ArgumentTypeError(str(err)) from None


def add_output_args(parser: argparse.ArgumentParser) -> None:
    """The output-location flags every training stage takes, beside ``add_common_args``'."""
    parser.add_argument(
        "--runs-dir",
        type=Path,
        default=Paths.runs,
        help="checkpoints and TensorBoard logs (default: %(default)s)",
    )
    parser.add_argument(
        "--saved-models-dir",
        type=Path,
        default=Paths.saved_models,
        help="exported SavedModels (default: %(default)s)",
    )


def paths_from_args(args: argparse.Namespace) -> Paths:
    """Paths from the common flags, and from ``add_output_args``' where the stage has them."""
    paths = Paths(
        data=args.data_dir,
        reports=args.reports_dir,
        saved_models=getattr(args, "saved_models_dir", None) or Paths.saved_models,
        runs=getattr(args, "runs_dir", None) or Paths.runs,
    )
    return paths.named(args.run) if getattr(args, "run", "") else paths


def setup_logging(verbose: bool = False) -> None:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(asctime)s %(levelname).1s %(name)s: %(message)s",
        datefmt="%H:%M:%S",
    )


@functools.cache
def field_comments(config_class: type) -> dict[str, str]:
    """Each field's trailing comment, the one place a field's meaning is written down."""
    source = textwrap.dedent(inspect.getsource(config_class))
    trailing = {}
    for token in tokenize.generate_tokens(io.StringIO(source).readline):
        if token.type == tokenize.COMMENT and token.line[: token.start[1]].strip():
            text = token.string.lstrip("#").strip()
            if not text.startswith(PRAGMAS):
                trailing[token.start[0]] = text
    (class_def,) = ast.parse(source).body
    comments = {}
    for node in class_def.body:
        if isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            # A field that spans lines has its comment on its first line or its last.
            lines = [n for n in (node.lineno, node.end_lineno) if n in trailing]
            if lines:
                comments[node.target.id] = trailing[lines[0]]
    return comments


def comma_list(item: Callable[[str], Any]) -> Callable[[str], tuple[Any, ...]]:
    """A flag type for a tuple field: ``a,b`` is ``(a, b)``, empty parts are dropped."""

    def parse(text: str) -> tuple[Any, ...]:
        return tuple(item(part) for part in text.split(",") if part)

    parse.__name__ = f"comma-separated {getattr(item, '__name__', 'value')}"  # argparse's errors
    return parse


def _flag_kind(hint: Any) -> dict[str, Any]:
    if hint is bool:
        return {"action": argparse.BooleanOptionalAction}
    if get_origin(hint) is tuple:
        return {"type": comma_list(get_args(hint)[0])}
    return {"type": hint}


def config_args(
    parser: argparse.ArgumentParser,
    config_class: type,
    only: Collection[str] | None = None,
    help: Mapping[str, str] | None = None,
    choices: Mapping[str, Iterable[Any]] | None = None,
) -> None:
    """A ``--field-name`` flag per field of ``config_class`` (or of those in ``only``).

    Every flag defaults to None, which ``config.override`` reads as "keep the preset's value".
    ``help`` and ``choices`` give chosen fields what the dataclass cannot say: a fixed set
    declared in another module, or help a command line needs beyond the field's comment
    (which ``help`` replaces).
    """
    hints = get_type_hints(config_class)
    comments = {**field_comments(config_class), **(help or {})}
    names = [f.name for f in fields(config_class) if only is None or f.name in only]
    stray = {*(only or ()), *(help or {}), *(choices or {})} - set(hints)
    if stray:
        raise TypeError(f"{config_class.__name__} has no fields {sorted(stray)}")
    for name in names:
        flag: dict[str, Any] = {"default": None, **_flag_kind(hints[name])}
        text = comments.get(name)
        if get_origin(hints[name]) is tuple:  # how to write one on a command line
            text = f"{text} (comma-separated)" if text else "comma-separated"
        if text:
            flag["help"] = text
        if choices and name in choices:
            flag["choices"] = tuple(choices[name])
        parser.add_argument(f"--{name.replace('_', '-')}", **flag)


def new_parser(module: str, doc: str) -> argparse.ArgumentParser:
    """A parser whose usage reads as the module is run (``python -m``) and says its claim."""
    return argparse.ArgumentParser(
        prog=f"python -m {module.removesuffix('.__main__')}", description=doc.split("\n\n")[0]
    )


def stage_parser(
    module: str,
    doc: str,
    config_class: type | None = None,
    *,
    outputs: bool = False,
    **flags: Any,
) -> argparse.ArgumentParser:
    """The common flags, the output-location ones if ``outputs``, and ``config_class``' flags.

    ``flags`` go to :func:`config_args` (``only``, ``help``, ``choices``).
    """
    parser = new_parser(module, doc)
    add_common_args(parser)
    if outputs:
        add_output_args(parser)
    if config_class is not None:
        config_args(parser, config_class, **flags)
    return parser


def run_stage(
    args: argparse.Namespace,
    work: Work,
    log: logging.Logger,
    *,
    writes: Callable[[Paths], Iterable[Path]],
    config: str | None = None,
    expected: Mapping[type[Exception], int] = EXPECTED,
) -> int:
    """Run a stage's ``work`` and return its exit code.

    Logging is set up, the output folders ``writes`` names are checked before any work (a
    stage that fails there has lost nothing), the flags override the preset's ``config``
    section, an ``expected`` error becomes one log line and its exit code rather than a
    traceback, and the text ``work`` returns is printed.
    """
    setup_logging(args.verbose)
    paths = paths_from_args(args)
    if not check_writable(*writes(paths)):
        return 1
    settings = override(getattr(PRESETS[args.preset], config), **vars(args)) if config else None
    try:
        text = work(args, paths, settings)
    except tuple(expected) as err:
        log.error("%s", err)
        return next(code for kind, code in expected.items() if isinstance(err, kind))
    if text is not None:
        print(text)
    return 0
