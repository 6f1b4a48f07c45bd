"""`mmkp` starts light: the top-level parser and `import mmkp` load no torch, and a command's
parser loads only what its flags need (docs/architecture.md, "The CLI starts light")."""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys

import pytest

import mmkp
import mmkp.inference.predictor
from mmkp.cli.main import COMMANDS, build_parser, invoked_command

# `mmkp prepare` lists the grid backbones, whose module (mmkp.features.backbones) loads torch.
NEEDS_TORCH_FOR_FLAGS = {"prepare"}


def _python(code: str) -> str:
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_the_top_level_parser_and_import_mmkp_load_no_torch():
    out = _python(
        "import sys; import mmkp; from mmkp.cli.main import build_parser; build_parser(); "
        "print(sorted(m for m in ('torch', 'numpy', 'matplotlib', 'ray') if m in sys.modules))"
    )
    assert out.split() == ["[]"]


def test_a_commands_help_loads_no_torch_unless_its_flags_need_it():
    commands = sorted(set(COMMANDS) - NEEDS_TORCH_FOR_FLAGS)
    out = _python(
        "import json, sys; from mmkp.cli.main import build_parser\n"
        f"for name in {commands!r}:\n"
        "    build_parser(name)\n"
        "    print(json.dumps([name, 'torch' in sys.modules]))\n"
    )
    assert [json.loads(line) for line in out.splitlines()] == [[name, False] for name in commands]


def test_the_engine_flags_load_no_ray():
    out = _python(
        "import sys; from mmkp.cli.main import build_parser\n"
        "for name in ('prepare', 'predict'):\n"
        "    build_parser(name)\n"
        "print('ray' in sys.modules)"
    )
    assert out.split() == ["False"]


def test_mmkp_help_exits_0_listing_every_command():
    done = subprocess.run(
        [sys.executable, "-m", "mmkp", "--help"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    # Each command starts a line indented by four; its wrapped help continues deeper.
    listed = re.findall(r"^    (\S+)", done.stdout, flags=re.MULTILINE)
    assert listed == list(COMMANDS)


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_the_table_help_is_the_commands_own(name: str):
    """The one line `mmkp --help` lists is the one the command's module registers."""
    parser = build_parser(name)
    (subparsers,) = (a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    helps = {action.dest: action.help for action in subparsers._choices_actions}
    assert helps[name] == COMMANDS[name][1]
    assert subparsers.choices[name].prog == f"{parser.prog} {name}"


def test_the_command_is_the_first_word_that_is_not_an_option():
    assert invoked_command(["--debug", "-v", "predict", "--text", "x"]) == "predict"
    assert invoked_command(["--help"]) is None
    assert invoked_command(["no-such-command"]) is None


def test_the_python_api_is_at_the_top():
    assert mmkp.Predictor is mmkp.inference.predictor.Predictor
    assert mmkp.RawPost is mmkp.inference.predictor.RawPost
    assert mmkp.PredictionResult is mmkp.inference.predictor.PredictionResult
    assert {"Predictor", "RawPost", "PredictionResult", "__version__"} <= set(dir(mmkp))
    with pytest.raises(AttributeError, match="no attribute 'nothing'"):
        _ = mmkp.nothing
