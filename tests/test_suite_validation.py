"""Every validation problem is one line naming the file and the key path, all at once."""

import textwrap

import pytest
from conftest import assert_one_line_error
from suite_files import problems_of
from torch import nn

from mtbench.registry import ModelConfigError, register_model


@register_model("test-grouped", family="test")
def grouped(num_classes: int = 10, width: int = 256, g: int = 1) -> nn.Module:
    """A tiny model with its own value validation, like MTNet's g."""
    if width % g:
        raise ModelConfigError(f"{g} does not divide {width} channels of stage 1", key="g")
    return nn.Linear(width, num_classes)


def write(tmp_path, body: str):
    path = tmp_path / "x.toml"
    path.write_text(textwrap.dedent(body))
    return path


GOOD_HEAD = """
[suite]
name = "x"
"""


@pytest.mark.parametrize(
    "body,key,needle",
    [
        (
            GOOD_HEAD + "[defaults]\nrepets = 3\n[[models]]\nname='r3d-18'\n",
            "defaults.repets",
            "did you mean 'repeats'",
        ),
        (
            GOOD_HEAD + "[defualts]\n[[models]]\nname='r3d-18'\n",
            "[defualts]",
            "did you mean 'defaults'",
        ),
        (
            GOOD_HEAD + "[defaults]\nrepeats = 'ten'\n[[models]]\nname='r3d-18'\n",
            "defaults.repeats",
            "integer >= 1",
        ),
        (
            GOOD_HEAD + "[defaults]\ninput = [1, 3, 16]\n[[models]]\nname='r3d-18'\n",
            "defaults.input",
            "[B, 3, T, H, W]",
        ),
        (
            GOOD_HEAD + "[defaults]\ndevice = 'tpu'\n[[models]]\nname='r3d-18'\n",
            "defaults.device",
            "auto, cpu, cuda",
        ),
        (
            GOOD_HEAD + "[defaults]\nmeasure = ['speed']\n[[models]]\nname='r3d-18'\n",
            "defaults.measure",
            "latency_fwd",
        ),
        (GOOD_HEAD + "[[models]]\nname='r3d-19'\n", "models[0].name", "did you mean 'r3d-18'"),
        (
            GOOD_HEAD + "[[models]]\nname='r3d-18'\n[[models]]\nname='r3d-18'\ndepth=3\n",
            "models[1].depth",
            "num_classes",
        ),
        (
            GOOD_HEAD + "[[models]]\nname='test-grouped'\ng=[1, 7]\n",
            "models[0].g",
            "7 does not divide 256 channels of stage 1",
        ),
        (GOOD_HEAD + "[[models]]\nname='test-grouped'\ng=[]\n", "models[0].g", "empty list"),
        (
            GOOD_HEAD + "[[models]]\nname='r3d-18'\n[[models]]\nname='r3d-18'\n",
            "models[1]",
            "duplicate cell",
        ),
        (GOOD_HEAD, "models", "no [[models]]"),
        ("[[models]]\nname='r3d-18'\n", "suite.name", "missing"),
        (
            GOOD_HEAD + "[train]\ndataset='ucf101'\n[[models]]\nname='r3d-18'\n",
            "[train]",
            "needs a [data] section",
        ),
        (
            GOOD_HEAD + "[eval]\nviews=10\n[[models]]\nname='r3d-18'\n",
            "[eval]",
            "needs a [data] section",
        ),
        (
            GOOD_HEAD + "[[models]]\nname='r3d-18'\nlabel='{depth}'\n",
            "models[0].label",
            "placeholder",
        ),
        ("[suite\nname=1", "invalid TOML", "line"),
    ],
)
def test_each_problem_names_file_and_key(tmp_path, body, key, needle):
    path = write(tmp_path, body)
    problems = problems_of(path)
    assert any(p.startswith(f"{path}: {key}") and needle in p for p in problems), problems
    assert all("\n" not in p for p in problems)


def test_all_problems_are_reported_at_once(tmp_path):
    path = write(
        tmp_path, GOOD_HEAD + "[defaults]\nrepeats = 0\nwarmup = -1\n[[models]]\nname='r3d-19'\n"
    )
    problems = problems_of(path)
    assert len(problems) == 3


def test_cli_prints_problems_and_exits_2_without_traceback(tmp_path, cli_inproc):
    path = write(tmp_path, GOOD_HEAD + "[[models]]\nname='test-grouped'\ng=7\n")
    assert_one_line_error(cli_inproc("run", str(path)), f"{path}: models[0].g: 7 does not divide")


def test_missing_file_is_one_line(tmp_path, cli_inproc):
    assert_one_line_error(cli_inproc("run", str(tmp_path / "nope.toml")), "cannot read")
