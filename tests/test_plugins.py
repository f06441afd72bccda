"""A model of the user's own, through each of the four ways in: profiled, trained and evaluated
by a suite, drawn in the accuracy plot; provenance in its records; every bad input one line."""

import json
import os
import sys
import textwrap
from pathlib import Path

import pytest
import torch
from conftest import assert_one_line_error, run_cli
from plugin_files import HUBCONF, MODEL_FILE, SUITE, write_plugins

from mtbench.registry import create_model
from mtbench.suite.store import latest_by_cell, read_records


def run_mtbench(*args: str, cwd: Path, pythonpath: Path | None = None, **env: str):
    """`mtbench ARGS` in a subprocess, with `pythonpath` (an installed plugin) importable."""
    env = {**os.environ, **env}
    if pythonpath is not None:
        env["PYTHONPATH"] = os.pathsep.join([str(pythonpath), env.get("PYTHONPATH", "")])
    return run_cli(*args, cwd=cwd, env=env)


# way in -> (model name in the suite, origin in the record). The callable's module is a copy
# of the model file under another name, so that the suite's import and the callable's do not
# register one name twice.
WAYS = {
    "import": ("tiny-vid-ways", "import"),
    "callable": ("tinycall:build_tiny_vid", "callable"),
    "hub": ("hub:hubrepo:tiny_vid", "hub"),
    "entry point": ("tiny-plug", "entry point"),
}
WAYS_SUITE = SUITE.replace('name = "{model}"', "name = {models}")


@pytest.mark.slow
def test_a_user_model_is_profiled_trained_evaluated_and_plotted(tmp_path, cli_inproc, monkeypatch):
    """Each way in, as a user runs it: `profile` each, `run` (train one epoch, evaluate) all
    four in one suite, `plot`. The entry point needs its package on the path when the
    process starts: its profile and the run are processes of their own."""
    write_plugins(tmp_path, "tiny-vid-ways")
    (tmp_path / "tinycall.py").write_text(MODEL_FILE.replace("{name}", "tiny-call"))
    models = [model for model, _ in WAYS.values()]
    (tmp_path / "suite.toml").write_text(
        WAYS_SUITE.format(imports='imports = ["tinyvid.py"]', models=json.dumps(models))
    )
    monkeypatch.chdir(tmp_path)
    for way, (model, _) in WAYS.items():
        args = ["profile", model, "--input", "1x3x4x16x16", "--measure", "params,flops", "--json"]
        if way == "import":
            args += ["--import", "tinyvid.py"]
        if way == "entry point":
            result = run_mtbench(*args, cwd=tmp_path, pythonpath=tmp_path / "site")
        else:
            result = cli_inproc(*args)
        assert result.returncode == 0, (way, result.stderr)
        profiled = json.loads(result.stdout)
        # conv 3x3x3 from 3 to 4 channels + bias, fc 4 -> 3 + bias
        assert profiled["params_total"] == (81 * 4 + 4) + (4 * 3 + 3), way
        assert profiled["gflops"] == pytest.approx(profiled["gflops_ptflops"], rel=0.02), way
        assert profiled["gflops"] * 1e9 >= 81 * 4 * 4 * 16 * 16, way

    result = run_mtbench("run", "suite.toml", cwd=tmp_path, pythonpath=tmp_path / "site")
    assert result.returncode == 0, result.stdout + result.stderr
    records = {r["model"]: r for r in read_records(tmp_path / "reports" / "plug")}
    assert sorted(records) == sorted(models)
    for way, (model, origin) in WAYS.items():
        record = records[model]
        assert record["status"] == "ok" and record["top1"] is not None, way
        assert record["num_test_scored"] == 6, way
        assert record["provenance"]["origin"] == origin, way
        assert len(record["provenance"]["sha256"]) == 64, way
    plugged = records["tiny-plug"]["provenance"]
    assert plugged["version"] == "0.3"
    assert "tinyplug = tinyplug (tinyplug 0.3)" in plugged["source"]

    result = cli_inproc("plot", "reports", "--only", "accuracy-gflops", "--format", "png")
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "reports" / "plots" / "plug-accuracy-gflops.png").stat().st_size > 1000


@pytest.mark.slow
def test_models_lists_every_origin(tmp_path):
    write_plugins(tmp_path, "tiny-listed")
    result = run_mtbench(
        "models", "--import", "tinyvid.py", "--json", cwd=tmp_path, pythonpath=tmp_path / "site"
    )
    assert result.returncode == 0, result.stderr
    rows = {r["name"]: r for r in json.loads(result.stdout)}
    assert rows["tiny-listed"]["origin"] == "import"
    assert rows["tiny-listed"]["kwargs"] == {"num_classes": 3, "width": 4}
    assert rows["tiny-plug"]["origin"] == "entry point"
    assert rows["r3d-18"]["origin"] == "built-in"
    off = run_mtbench(
        "models", "--json", cwd=tmp_path, pythonpath=tmp_path / "site", MTBENCH_PLUGINS_AUTOLOAD="0"
    )
    assert off.returncode == 0 and "tiny-plug" not in off.stdout


def test_a_changed_user_model_is_measured_again_and_its_training_set_aside(
    tmp_path, cli_inproc, monkeypatch
):
    monkeypatch.chdir(tmp_path)
    write_plugins(tmp_path, "tiny-changing")
    suite = tmp_path / "suite.toml"
    suite.write_text(SUITE.format(imports='imports = ["tinyvid.py"]', model="tiny-changing"))
    store = tmp_path / "reports" / "plug"
    assert cli_inproc("run", "suite.toml").returncode == 0
    (first,) = read_records(store)
    again = cli_inproc("run", "suite.toml")
    assert "skipped 1 already measured" in again.stdout
    source = tmp_path / "tinyvid.py"
    source.write_text(source.read_text().replace("return self.fc(", "return 2 * self.fc("))
    changed = cli_inproc("run", "suite.toml")
    assert changed.returncode == 0, changed.stderr
    assert "1 cells were measured with other code of tiny-changing" in changed.stdout
    assert "ran 1, skipped 0" in changed.stdout
    records = read_records(store)
    assert len(records) == 2 and records[0]["cell_key"] == records[1]["cell_key"]
    assert records[1]["provenance"]["sha256"] != first["provenance"]["sha256"]
    kept = list((store / "cells").glob(f"{first['cell_key']}.other-code-*"))
    assert len(kept) == 1 and (kept[0] / "last.pt").exists()
    assert (store / "cells" / first["cell_key"] / "last.pt").exists()
    assert len(latest_by_cell(records)) == 1


@pytest.fixture
def plugin_dir(tmp_path, monkeypatch):
    write_plugins(tmp_path, "tiny-bad")
    monkeypatch.chdir(tmp_path)
    return tmp_path


def suite_with(root: Path, imports: str, model: str) -> str:
    path = root / "bad.toml"
    path.write_text(SUITE.format(imports=imports, model=model))
    return str(path)


BAD_SOURCES = {
    "suite import missing": (
        lambda r: ["run", suite_with(r, 'imports = ["no_such_module"]', "r3d-18")],
        ["bad.toml: suite.imports: cannot import 'no_such_module'", "No module named"],
    ),
    "suite import broken": (
        lambda r: ["run", suite_with(r, 'imports = ["broken.py"]', "r3d-18")],
        ["suite.imports: cannot import 'broken.py'", "SyntaxError"],
    ),
    "flag import missing": (
        lambda r: ["profile", "r3d-18", "--import", "nowhere_mod"],
        ["--import: cannot import 'nowhere_mod'", "No module named 'nowhere_mod'"],
    ),
    "missing attribute": (
        lambda r: ["profile", "tinyvid:build_tiny_vidd"],
        ["has no attribute 'build_tiny_vidd'", "did you mean 'build_tiny_vid'"],
    ),
    "not a module": (
        lambda r: ["profile", "tinyvid:not_a_model", "--measure", "params"],
        ["returned str, not a torch.nn.Module"],
    ),
    "unknown keyword": (
        lambda r: ["profile", "tinyvid:build_tiny_vid", "--kw", "depth=2"],
        ["unknown keyword argument 'depth'", "valid: num_classes, width"],
    ),
    "hub without hubconf": (
        lambda r: ["profile", "hub:site:tiny_vid"],
        ["no hubconf.py in"],
    ),
    "hub without entry": (
        lambda r: ["profile", "hub:hubrepo:tiny_vd"],
        ["has no entry 'tiny_vd'", "did you mean 'tiny_vid'", "entries: tiny_vid"],
    ),
    "registered twice": (
        lambda r: ["models", "--import", "one.py", "--import", "twin.py"],
        ["'tiny-twin' is registered twice", "one.py", "twin.py"],
    ),
    "forward rejects the input": (
        lambda r: ["run", suite_with(r, 'imports = ["flat.py"]', "flat-net")],
        ["models[0]: flat-net rejects a 1x3x4x16x16 clip", "RuntimeError"],
    ),
}


@pytest.mark.parametrize("case", list(BAD_SOURCES))
def test_bad_sources_are_one_line(plugin_dir, cli_inproc, case):
    (plugin_dir / "broken.py").write_text("def oops(:\n")
    for twin in ("one.py", "twin.py"):
        (plugin_dir / twin).write_text(MODEL_FILE.replace("{name}", "tiny-twin"))
    (plugin_dir / "flat.py").write_text(
        "from torch import nn\nfrom mtbench.registry import register_model\n\n"
        '@register_model("flat-net", family="flat")\n'
        "def flat(num_classes: int = 3) -> nn.Module:\n"
        "    return nn.Sequential(nn.Flatten(), nn.Linear(3 * 8 * 16 * 16, num_classes))\n"
    )
    args, needles = BAD_SOURCES[case]
    result = cli_inproc(*args(plugin_dir))
    assert_one_line_error(result, *needles)


@pytest.mark.slow
def test_an_entry_point_that_fails_to_import_is_one_line(tmp_path):
    write_plugins(tmp_path, "tiny-x")
    (tmp_path / "site" / "tinyplug" / "__init__.py").write_text("raise ImportError('no gpu lib')")
    result = run_mtbench("models", cwd=tmp_path, pythonpath=tmp_path / "site")
    assert_one_line_error(
        result,
        "entry point tinyplug = tinyplug (tinyplug 0.3)",
        "ImportError: no gpu lib",
        "MTBENCH_PLUGINS_AUTOLOAD=0",
    )


def test_every_command_help_renders_as_written():
    """Docstrings name TOML sections ("[data]"): no markup may swallow them."""
    import typer.main
    from typer.testing import CliRunner

    from mtbench.cli import app

    group = typer.main.get_command(app)
    runner = CliRunner()

    def walk(command, path):
        yield command, path
        for name, sub in getattr(command, "commands", {}).items():
            yield from walk(sub, [*path, name])

    checked = 0
    for command, path in walk(group, []):
        result = runner.invoke(app, [*path, "--help"], prog_name="mtbench")
        assert result.exit_code == 0, (path, result.output)
        text = " ".join((command.help or "").split())
        assert text in " ".join(result.output.split()), path
        checked += 1
    assert checked > 10
    run_help = runner.invoke(app, ["run", "--help"]).output
    assert "[data]" in run_help


def test_transformers_missing_names_the_install_command(monkeypatch, cli_inproc):
    monkeypatch.setitem(sys.modules, "transformers", None)
    result = cli_inproc("profile", "videomae-s", "--input", "1x3x16x224x224")
    assert_one_line_error(result, "need transformers", "pip install 'mtbench[transformers]'")


def test_a_fixed_size_model_refuses_another_input_before_anything_runs(cli_inproc, tmp_path):
    result = cli_inproc("profile", "videomae-b", "--input", "1x3x8x112x112")
    assert_one_line_error(
        result, "videomae-b takes only 16x224x224 clips", "num_frames=8", "image_size=112"
    )
    result = cli_inproc("profile", "mvit-v2-s", "--input", "1x3x8x112x112")
    assert_one_line_error(result, "mvit-v2-s takes only 16x224x224 clips")
    path = tmp_path / "s.toml"
    path.write_text(
        '[suite]\nname = "s"\n[defaults]\ninput = [1, 3, 8, 64, 64]\n'
        '[[models]]\nname = "timesformer-b"\n'
    )
    result = cli_inproc("run", str(path), "--dry-run")
    assert_one_line_error(result, "s.toml: models[0]: timesformer-b takes only 8x224x224 clips")


def test_module_names_are_imported_from_the_suite_folder(tmp_path, monkeypatch):
    """`imports = ["name"]` finds a module beside the suite, wherever mtbench runs from."""
    from mtbench.suite.grid import load_suite

    folder = tmp_path / "project"
    folder.mkdir()
    (folder / "beside_suite.py").write_text(MODEL_FILE.replace("{name}", "tiny-beside"))
    (folder / "s.toml").write_text(
        '[suite]\nname = "s"\nimports = ["beside_suite"]\n[[models]]\nname = "tiny-beside"\n'
    )
    monkeypatch.chdir(tmp_path)
    _, cells = load_suite(folder / "s.toml")
    assert [c.model for c in cells] == ["tiny-beside"]
    assert create_model("tiny-beside")(torch.randn(2, 3, 4, 8, 8)).shape == (2, 3)


def test_suite_imports_must_be_a_list_of_strings(tmp_path, cli_inproc):
    path = tmp_path / "s.toml"
    path.write_text(
        textwrap.dedent("""
        [suite]
        name = "s"
        imports = "mymodels"
        [[models]]
        name = "r3d-18"
        """)
    )
    result = cli_inproc("run", str(path), "--dry-run")
    assert_one_line_error(result, "suite.imports: expected a list of non-empty strings")


def test_a_name_that_names_a_place_means_the_place_it_names_from_here(
    tmp_path, monkeypatch, cli_inproc
):
    """`hub:hubrepo:ENTRY` and `file.py:callable` are read from where each command runs: a
    second project's folders of the same names build its own networks, not the first's
    (one process, as the in-process tests and a notebook run several commands)."""
    widths = {"first": 3, "second": 5}
    for project, width in widths.items():
        folder = tmp_path / project
        folder.mkdir()
        code = MODEL_FILE.replace("WIDTH = 4", f"WIDTH = {width}")
        # Each hub's helper module has a name of its own: torch.hub imports a hubconf's
        # helpers by name, and Python keeps the first module of a name for the process.
        (folder / "hubrepo").mkdir()
        helper = f"placed_hub_{project}"
        (folder / "hubrepo" / f"{helper}.py").write_text(code.replace("{name}", helper))
        (folder / "hubrepo" / "hubconf.py").write_text(HUBCONF.replace("tinyvid_hub", helper))
        (folder / "placed.py").write_text(code.replace("{name}", f"placed-{project}"))
    for project, width in widths.items():
        monkeypatch.chdir(tmp_path / project)
        for name in ("hub:hubrepo:tiny_vid", "placed.py:build_tiny_vid"):
            args = ["profile", name, "--input", "1x3x4x16x16", "--measure", "params", "--json"]
            result = cli_inproc(*args)
            assert result.returncode == 0, (project, name, result.stderr)
            record = json.loads(result.stdout)
            # the convolution (3 -> width, 3x3x3, bias), the linear layer (width -> 3 classes,
            # the builder's default)
            assert record["params_total"] == 3 * width * 27 + width + width * 3 + 3, (project, name)
            assert record["provenance"]["file"].startswith(str(tmp_path / project)), name
