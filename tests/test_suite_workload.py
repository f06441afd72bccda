"""A suite with [data] trains: its sections, dotted per-model overrides and their defaults."""

import textwrap

import pytest
from conftest import assert_one_line_error
from suite_files import problems_of

from mtbench.suite.grid import load_suite

HEAD = """
[suite]
name = "w"
[data]
dataset = "synthetic"
num_classes = 5
frames = 8
crop = 32
"""


def write(tmp_path, body: str):
    path = tmp_path / "w.toml"
    path.write_text(textwrap.dedent(body))
    return path


def test_dotted_overrides_expand_into_the_grid_and_label(tmp_path):
    path = write(
        tmp_path,
        HEAD + "[train]\nlr = 0.1\n[[models]]\nname = 'r3d-18'\n"
        "train.seed = [0, 1, 2]\ndata.frames = [4, 8]\n",
    )
    spec, cells = load_suite(path)
    assert len(cells) == 6
    assert [c.workload.train["seed"] for c in cells] == [0, 0, 1, 1, 2, 2]
    assert [c.workload.data["frames"] for c in cells] == [4, 8] * 3
    assert cells[0].label == "r3d-18 train.seed=0 data.frames=4"
    assert all(c.workload.train["lr"] == 0.1 for c in cells)
    assert cells[0].workload.train["weight_decay"] == 1e-6  # the documented default
    assert len({c.key for c in cells}) == 6


def test_class_count_and_measured_clip_default_to_the_dataset(tmp_path):
    models = (
        "[[models]]\nname = 'r3d-18'\n[[models]]\nname = 'r3d-18'\nnum_classes = 7\n"
        "[[models]]\nname = 'r3d-18'\ninput = [1, 3, 4, 16, 16]\n"
    )
    path = write(tmp_path, HEAD + models)
    _, cells = load_suite(path)
    assert cells[0].kwargs["num_classes"] == 5
    assert cells[0].input_shape == [1, 3, 8, 32, 32]
    assert cells[1].kwargs["num_classes"] == 7
    assert cells[2].input_shape == [1, 3, 4, 16, 16]


def test_measure_only_cell_keys_are_unchanged_by_the_workload_code(tmp_path):
    """Stores written before training existed must still resume: key of a fixed config."""
    path = write(tmp_path, "[suite]\nname = 'k'\n[[models]]\nname = 'r3d-18'\nnum_classes = 10\n")
    _, (cell,) = load_suite(path)
    assert cell.workload is None
    assert cell.key == "f06886fcca7299a3"


def test_a_changed_eval_view_is_a_new_cell(tmp_path):
    base = HEAD + "[[models]]\nname = 'r3d-18'\n"
    _, (a,) = load_suite(write(tmp_path, base))
    _, (b,) = load_suite(
        write(tmp_path, base.replace("[[models]]", "[eval]\nclips = 2\n[[models]]"))
    )
    assert a.key != b.key


@pytest.mark.parametrize(
    "body,key,needle",
    [
        (HEAD.replace("synthetic", "ucf"), "data.dataset", "ucf101, hmdb51"),
        (HEAD + "fames = 8\n", "data.fames", "did you mean 'frames'"),
        (HEAD + "resize = [160, 128]\n", "data.resize", "low <= high"),
        (HEAD + "[train]\nepocs = 3\n", "train.epocs", "did you mean 'epochs'"),
        (HEAD + "[train]\nlr = 0\n", "train.lr", "> 0"),
        (HEAD + "[train]\nschedule = 'poly'\n", "train.schedule", "step, cosine"),
        (HEAD + "[train]\nlr_steps = [30, 20]\n", "train.lr_steps", "increasing"),
        (HEAD + "[train]\nfreeze = 'stem'\n", "train.freeze", "list of module names"),
        (HEAD + "[eval]\ncrops = 2\n", "eval.crops", "1, 3"),
        (
            HEAD + "[[models]]\nname = 'r3d-18'\ntrain.sed = [0, 1]\n",
            "models[0].train.sed",
            "did you mean 'train.seed'",
        ),
        (
            HEAD + "[[models]]\nname = 'r3d-18'\ntrain.seed = [0, -1]\n",
            "models[0].train.seed",
            ">= 0",
        ),
        (
            "[suite]\nname='x'\n[[models]]\nname = 'r3d-18'\ntrain.seed = 1\n",
            "models[0].train.seed",
            "needs a [data] section",
        ),
        (
            "[suite]\nname='x'\n[data]\nframes = 8\n[[models]]\nname = 'r3d-18'\n",
            "data.dataset",
            "missing",
        ),
    ],
)
def test_each_workload_problem_is_one_line_naming_file_and_key(tmp_path, body, key, needle):
    if "[[models]]" not in body:
        body += "[[models]]\nname = 'r3d-18'\n"
    path = write(tmp_path, body)
    problems = problems_of(path)
    assert any(p.startswith(f"{path}: {key}") and needle in p for p in problems), problems


@pytest.mark.parametrize(
    "data,needle",
    [
        ("dataset = 'ucf101'\nroot = '{tmp}/nowhere'\nannotations = '{tmp}'\n", "nowhere"),
        ("dataset = 'hmdb51'\nroot = '{tmp}'\nannotations = '{tmp}/splits'\n", "splits"),
    ],
)
def test_a_missing_dataset_root_or_annotations_is_one_line_exit_2(
    tmp_path, cli_inproc, data, needle
):
    path = write(
        tmp_path,
        "[suite]\nname='x'\n[data]\n" + data.format(tmp=tmp_path) + "[[models]]\nname = 'r3d-18'\n",
    )
    result = cli_inproc("run", str(path), "--dry-run")
    assert_one_line_error(result, str(path), needle)


def test_data_is_checked_even_when_the_model_names_its_class_count(tmp_path, cli_inproc):
    body = (
        f"[suite]\nname='x'\n[data]\ndataset = 'ucf101'\nroot = '{tmp_path}/gone'\n"
        f"annotations = '{tmp_path}'\n[[models]]\nname = 'r3d-18'\nnum_classes = 5\n"
    )
    path = write(tmp_path, body)
    assert_one_line_error(cli_inproc("run", str(path), "--dry-run"), str(path), "gone")


def test_new_data_keys_keep_cell_keys_unless_set_and_bad_decoders_are_one_line(
    tmp_path, cli_inproc
):
    models = "[[models]]\nname = 'r3d-18'\n"
    _, (plain,) = load_suite(write(tmp_path, HEAD + models))
    _, (same,) = load_suite(
        write(tmp_path, HEAD + "decoder = 'pyav'\ndecode_threads = 0\n" + models)
    )
    _, (threads,) = load_suite(write(tmp_path, HEAD + "decode_threads = 2\n" + models))
    assert plain.key == same.key != threads.key
    assert "decoder" not in plain.config()["workload"]["data"]
    path = write(tmp_path, HEAD + "decode_device = 'cuda'\n" + models)
    result = cli_inproc("run", str(path), "--dry-run")
    assert_one_line_error(result, str(path), 'only with data.decoder = "torchcodec"')
