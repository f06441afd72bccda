"""A user's model that fails while it is built: one line and exit code 2 by default; with
`--debug` or MTBENCH_DEBUG=1 the traceback, down to the builder's own frame, and still exit 2."""

import traceback

import pytest
from conftest import assert_one_line_error

from mtbench.errors import ModelConfigError
from mtbench.registry import create_model

# The division by zero is two calls below the builder, as a bug in a user's model would be.
BROKEN = """
from torch import nn
from mtbench.registry import register_model


def stage_widths(depth):
    return [64 // (depth - 3) for _ in range(depth)]


def stages(depth):
    return nn.Sequential(*[nn.Conv3d(3, w, 1) for w in stage_widths(depth)])


@register_model("zero-net", family="zero-net")
def zero_net(num_classes: int = 3, depth: int = 3) -> nn.Module:
    return stages(depth)
"""

SUITE = """
[suite]
name = "zero"
imports = ["broken.py"]

[defaults]
input = [1, 3, 4, 16, 16]
measure = ["params"]

[[models]]
name = "zero-net"
"""

CAUSE = "ZeroDivisionError: integer division or modulo by zero"

# command -> its arguments (in the folder that holds broken.py and suite.toml)
COMMANDS = {
    "profile": ["profile", "zero-net", "--import", "broken.py", "--measure", "params"],
    "run": ["run", "suite.toml", "--dry-run"],
}


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    """One folder for the module: a model file imported from two paths is two sources."""
    root = tmp_path_factory.mktemp("broken")
    (root / "broken.py").write_text(BROKEN)
    (root / "suite.toml").write_text(SUITE)
    return root


@pytest.fixture
def broken(folder, monkeypatch):
    monkeypatch.chdir(folder)
    monkeypatch.delenv("MTBENCH_DEBUG", raising=False)
    return folder


def assert_builder_traceback(result) -> None:
    """Exit code 2, and a traceback that reaches the line of broken.py that divides by zero,
    chained to the one-line error the user would have seen."""
    assert result.returncode == 2, result.stderr
    err = result.stderr
    assert err.startswith("Traceback (most recent call last):"), err
    assert 'broken.py", line 7, in stage_widths' in err, err
    assert "return [64 // (depth - 3) for _ in range(depth)]" in err, err
    assert "The above exception was the direct cause of the following exception" in err, err
    last = err.strip().splitlines()[-1]  # the one line a user sees without --debug
    assert "zero-net" in last and CAUSE in last, err


@pytest.mark.parametrize("command", list(COMMANDS))
def test_a_builder_bug_is_one_line_by_default(broken, cli_inproc, command):
    assert_one_line_error(cli_inproc(*COMMANDS[command]), "zero-net", CAUSE)


@pytest.mark.parametrize("command", list(COMMANDS))
def test_debug_prints_the_builder_traceback(broken, cli_inproc, command):
    assert_builder_traceback(cli_inproc("--debug", *COMMANDS[command]))


@pytest.mark.parametrize("command", list(COMMANDS))
def test_mtbench_debug_prints_the_builder_traceback(broken, cli_inproc, monkeypatch, command):
    monkeypatch.setenv("MTBENCH_DEBUG", "1")
    assert_builder_traceback(cli_inproc(*COMMANDS[command]))


def test_mtbench_debug_0_is_one_line(broken, cli_inproc, monkeypatch):
    monkeypatch.setenv("MTBENCH_DEBUG", "0")
    assert_one_line_error(cli_inproc(*COMMANDS["profile"]), "zero-net", CAUSE)


def test_debug_does_not_outlive_its_command(broken, cli_inproc):
    """In one process (tests, notebooks), a later command without --debug is one line."""
    assert_builder_traceback(cli_inproc("--debug", *COMMANDS["profile"]))
    assert_one_line_error(cli_inproc(*COMMANDS["profile"]), "zero-net", CAUSE)


def test_the_builder_exception_is_the_cause(broken, cli_inproc):
    cli_inproc("models", "--import", "broken.py")  # registers zero-net
    with pytest.raises(ModelConfigError, match=f"zero-net: {CAUSE}") as caught:
        create_model("zero-net")
    cause = caught.value.__cause__
    assert isinstance(cause, ZeroDivisionError)
    assert cause.__traceback__ is not None
    frames = [frame.f_code.co_name for frame, _ in traceback.walk_tb(cause.__traceback__)]
    assert frames[0] == "create_model", frames
    calls = [f for f in frames if f in ("zero_net", "stages", "stage_widths")]
    assert calls == ["zero_net", "stages", "stage_widths"], frames
