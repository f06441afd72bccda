"""Multi-view evaluation: metrics against a direct computation, fewer views re-scored from the
saved per-view scores equal running the model with those views, and `mtbench eval`."""

import json
import textwrap

import numpy as np
import pytest
import tiny_models
import torch
from conftest import assert_one_line_error
from train_suite import SUITE

from mtbench.suite.store import read_records
from mtbench.train.checkpoint import model_state
from mtbench.train.evaluate import ViewScores, score, select_views

# One worker builds the module-scoped fixture once for all of them (tests/serial_last.py).
pytestmark = pytest.mark.xdist_group("train-eval")


def test_metrics_match_a_direct_computation():
    rng = np.random.default_rng(0)
    probs = rng.random((30, 6, 7)).astype(np.float32)
    labels = rng.integers(0, 7, 30)
    views = ViewScores(torch.from_numpy(probs), torch.from_numpy(labels), 2, 3, list("abcdefg"))
    m = score(views)
    mean = probs.mean(axis=1)
    ranked = np.argsort(-mean, axis=1)
    assert m.top1 == pytest.approx(100 * np.mean(ranked[:, 0] == labels))
    in_top5 = [lab in r[:5] for lab, r in zip(labels, ranked, strict=True)]
    assert m.top5 == pytest.approx(100 * np.mean(in_top5))
    recalls = [np.mean(ranked[labels == c, 0] == c) for c in range(7) if (labels == c).any()]
    assert m.mean_class_acc == pytest.approx(100 * np.mean(recalls))
    assert m.confusion.sum() == 30 and np.trace(m.confusion) == np.sum(ranked[:, 0] == labels)


def test_view_subsets_take_the_middle_clip_and_the_centre_crop():
    assert select_views(3, 3, 1, 1) == [4]
    assert select_views(3, 3, 3, 1) == [1, 4, 7]
    assert select_views(5, 1, 1, 1) == [2]
    assert select_views(4, 3, 4, 3) == list(range(12))
    with pytest.raises(ValueError, match="cannot score"):
        select_views(2, 1, 3, 1)


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """One tiny cell trained and evaluated at 3 clips x 3 crops."""
    from mtbench.cli import main

    tmp = tmp_path_factory.mktemp("trained")
    suite = tmp / "suite.toml"
    body = (
        SUITE.format(workers=0)
        .replace("clips = 2", "clips = 3")
        .replace("epochs = 6", "epochs = 2")
    )
    suite.write_text(textwrap.dedent(body))
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        main(["run", str(suite), "--output", str(tmp / "out")])
    except SystemExit as exc:
        assert exc.code in (0, None)
    finally:
        torch.set_num_threads(threads)
    return suite, tmp / "out"


@pytest.mark.slow
def test_trained_record_has_accuracy_and_its_files(trained):
    _, out = trained
    (record,) = read_records(out)
    assert record["status"] == "ok", record["error"]
    assert record["views"] == "3x3" and record["view_average"] == "softmax"
    assert record["num_test_videos"] == record["num_test_scored"] == 6
    assert record["dataset"] == "synthetic" and record["world_size"] == 1
    assert len(record["data_fingerprint"]) >= 8
    assert record["decoder"].startswith("synthetic") and record["decode_threads"] is None
    folder = out / record["checkpoint"].rsplit("/", 1)[0]
    for name in ("last.pt", "scores.pt", "per_class.csv", "confusion.csv", "confusion.png"):
        assert (folder / name).exists(), name
    log = [json.loads(line) for line in (folder / "train_log.jsonl").read_text().splitlines()]
    assert [line["epoch"] for line in log] == [1, 2]
    assert {"lr", "loss", "train_top1", "clips_per_s", "data_wait_frac", "seconds"} <= log[0].keys()
    views = ViewScores.load(folder / "scores.pt")
    assert views.scores.shape == (6, 9, 3)
    assert score(views).top1 == pytest.approx(record["top1"])
    # the three clips of a video are different windows, so their scores differ
    assert not torch.allclose(views.scores[:, 1], views.scores[:, 4])


@pytest.mark.slow
def test_eval_with_fewer_views_equals_rescoring_the_saved_scores(trained, cli_inproc):
    suite, out = trained
    result = cli_inproc("eval", str(suite), "--output", str(out), "--clips", "1", "--crops", "1")
    assert result.returncode == 0, result.stdout + result.stderr
    records = read_records(out)
    assert [r["views"] for r in records] == ["3x3", "1x1"]
    assert records[0]["cell_key"] != records[1]["cell_key"]
    folder = out / records[0]["checkpoint"].rsplit("/", 1)[0]
    saved = ViewScores.load(folder / "scores.pt")
    rerun = ViewScores.load(folder / "scores-1x1.pt")
    assert torch.allclose(saved.scores[:, select_views(3, 3, 1, 1)], rerun.scores, atol=1e-6)
    assert score(saved, 1, 1).top1 == pytest.approx(records[1]["top1"])
    # evaluating the same views again finds the record and does nothing
    again = cli_inproc("eval", str(suite), "--output", str(out), "--clips", "1", "--crops", "1")
    assert again.returncode == 0 and len(read_records(out)) == 2


@pytest.mark.parametrize(
    "args,needle",
    [(["--crops", "2"], "--crops 2: expected 1 or 3"), (["--clips", "0"], "--clips 0")],
)
@pytest.mark.slow
def test_bad_eval_views_are_one_line(trained, cli_inproc, args, needle):
    suite, out = trained
    assert_one_line_error(cli_inproc("eval", str(suite), "--output", str(out), *args), needle)


def test_eval_of_a_suite_without_data_is_one_line(tmp_path, cli_inproc):
    suite = tmp_path / "m.toml"
    suite.write_text("[suite]\nname = 'm'\n[[models]]\nname = 'r3d-18'\n")
    assert_one_line_error(cli_inproc("eval", str(suite)), "no [data] section")


@pytest.mark.slow
def test_eval_before_training_fails_the_cell(trained, tmp_path, cli_inproc):
    suite, _ = trained
    result = cli_inproc("eval", str(suite), "--output", str(tmp_path / "empty"))
    assert result.returncode == 1
    assert "no checkpoint" in " ".join(result.stdout.split()) or "has not finished" in " ".join(
        result.stdout.split()
    )


@pytest.mark.slow
def test_a_training_checkpoint_loads_with_the_safe_loader(trained):
    """`weights=` and `init_from` read checkpoints with weights_only=True: ours must pass it."""
    _, out = trained
    (path,) = out.glob("cells/*/last.pt")
    checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    fresh = tiny_models.tiny3d(num_classes=3)
    assert model_state(checkpoint).keys() == fresh.state_dict().keys()
    assert len(checkpoint["rng"]) == 1 and set(checkpoint["rng"][0]) >= {"torch", "numpy"}
