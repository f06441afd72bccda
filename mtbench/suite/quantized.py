"""A reduced-precision suite cell with [data] (INT8, bfloat16): an INT8 one calibrated on its
own training clips, each gated on its own evaluation clips against its float32 network before
it is timed.

Calibration: a seeded sample of `calibration_clips` clips of the training split, through the
cell's evaluation transforms (the clips the network sees at inference: one clip, centre crop,
the cell's normalisation), in batches of the cell's clip shape. MLPerf's closed division
calibrates on training data, never on the evaluation set.

The gate: both networks score the cell's evaluation views through the same code as the
trainer's evaluation (`mtbench.train.evaluate.run_views` and `score`): the float32 network in
PyTorch eager on the CPU, the cell's one through its executor's forward. The record gets
both accuracies, how often their predictions agree, and the verdict against MLPerf's
closed-division targets (99% and 99.9% of float32 top-1) or the cell's `require_accuracy`.
A failed gate is recorded; the cell is still timed.
"""

from __future__ import annotations

import copy
import itertools
import math
import random
from collections.abc import Callable
from contextlib import nullcontext
from pathlib import Path

import torch
from torch import nn

from mtbench.data import Annotations, build_dataset, read_annotations
from mtbench.deploy.quantize import Calibration
from mtbench.errors import one_line
from mtbench.executor import Executor
from mtbench.record import Accuracy, Gate, Record, TrainingResult
from mtbench.registry import create_model
from mtbench.store_layout import cell_folder
from mtbench.suite.grid import Cell
from mtbench.suite.store import ok_records
from mtbench.train.checkpoint import LAST, load_checkpoint
from mtbench.train.evaluate import Metrics, ViewScores, run_views, score
from mtbench.train.finetune import freeze
from mtbench.train.trainer import TrainedCell, test_loader

TARGETS = {"99%": 0.99, "99.9%": 0.999}  # MLPerf Inference, closed division
DEFAULT_REQUIRED = 0.99


def is_reference(cell: Cell) -> bool:
    """A training cell whose network is trained here: float32 under PyTorch. Its precision
    and runtime cells measure the network it trained (`trained_sibling`)."""
    return cell.options.dtype == "float32" and cell.options.runtime == "pytorch"


def trained_sibling(store: Path, cell: Cell) -> TrainedCell | None:
    """For a training cell that differs from a float32 PyTorch cell of the same suite only in
    how the network runs (precision, runtime), that cell's trained network and training part,
    once it has finished: the network is trained once and measured in every precision."""
    if cell.workload is None or is_reference(cell):
        return None
    for key, record in ok_records(store).items():
        same = (
            record.get("top1") is not None
            and record["dtype"] == "float32"
            and record["runtime"] == "pytorch"
            and record["model"] == cell.model
            and record.get("workload") == cell.workload.config()
            and record["input_shape"] == cell.input_shape
            and all(record["model_kwargs"].get(k) == v for k, v in cell.kwargs.items())
        )
        path = cell_folder(store, key) / LAST
        if not same or not path.is_file():
            continue
        state = load_checkpoint(path)
        if state.get("epoch") != cell.workload.train["epochs"]:
            continue
        model = create_model(cell.model, **{"num_classes": record["num_classes"], **cell.kwargs})
        model.load_state_dict(state["model"])
        freeze(model, cell.workload.train["freeze"])
        part = {k: record[k] for k in TrainingResult.__annotations__ if k in record}
        return TrainedCell(part, model)  # type: ignore[arg-type]
    return None


def calibration_clips(cell: Cell, annotations: Annotations | None = None) -> Calibration:
    """The cell's calibration batches: `calibration_clips` training clips sampled with the
    cell's training seed, through its evaluation transforms."""
    assert cell.workload is not None
    config = cell.workload.data_config()
    seed = cell.workload.train["seed"]
    annotations = annotations or read_annotations(config)
    train_set = build_dataset(
        config, "train", train=False, seed=seed, clips=1, crops=1, annotations=annotations
    )
    wanted = min(cell.options.calibration_clips, len(train_set))
    picks = random.Random(seed).sample(range(len(train_set)), wanted)
    clips = [v[0] for i in picks if (v := train_set[i]["video"]) is not None]
    if not clips:
        raise RuntimeError("calibration: none of the sampled training videos could be read")
    batch = cell.input_shape[0]
    # Batches of the cell's clip shape; the last one filled with the first clips again.
    filled = list(itertools.islice(itertools.cycle(clips), math.ceil(len(clips) / batch) * batch))
    batches = [torch.stack(filled[i : i + batch]) for i in range(0, len(filled), batch)]
    source = (
        f"{len(clips)} of {len(train_set)} training clips of {config.dataset}"
        f" (seed {seed}, evaluation transforms)"
    )
    return Calibration(batches, source)


class _Forward(nn.Module):
    """An executor's forward where the evaluation expects a module."""

    def __init__(self, forward: Callable[[torch.Tensor], torch.Tensor]) -> None:
        super().__init__()
        self.run = forward

    def forward(self, clips: torch.Tensor) -> torch.Tensor:
        return self.run(clips)


def evaluate(network: nn.Module, cell: Cell, annotations: Annotations) -> ViewScores:
    """Every evaluation view of every test video scored by `network` on the CPU."""
    assert cell.workload is not None
    evaluation = cell.workload.eval
    loader = test_loader(cell, evaluation, annotations, shard=False)
    views, _ = run_views(
        network,
        loader,
        device=torch.device("cpu"),
        clips=evaluation["clips"],
        crops=evaluation["crops"],
        classes=annotations.classes,
        autocast=nullcontext,
    )
    return views


def _accuracy(metrics: Metrics) -> Accuracy:
    return Accuracy(top1=metrics.top1, top5=metrics.top5, mean_class_acc=metrics.mean_class_acc)


def agreement(a: ViewScores, b: ViewScores) -> float:
    """Share of videos whose view-averaged top class is the same in both."""
    same = a.scores.mean(dim=1).argmax(dim=1) == b.scores.mean(dim=1).argmax(dim=1)
    return float(same.float().mean()) if len(same) else 0.0


def gate_of(reference: ViewScores, as_run: ViewScores, required: float | None) -> Gate:
    """The record's gate from both networks' scores of the same views."""
    ref, got = score(reference), score(as_run)
    ratio = got.top1 / ref.top1 if ref.top1 > 0 else (1.0 if got.top1 == 0 else float("inf"))
    return Gate(
        float32=_accuracy(ref),
        as_run=_accuracy(got),
        top1_agreement=agreement(reference, as_run),
        videos=ref.videos,
        views=f"{reference.clips}x{reference.crops}",
        ratio=ratio,
        targets={name: ratio >= target for name, target in TARGETS.items()},
        required=required,
        verdict="pass" if ratio >= (required or DEFAULT_REQUIRED) else "fail",
    )


def accuracy_gate(
    cell: Cell, float_model: nn.Module, annotations: Annotations | None = None
) -> Callable[[Executor, Record], None]:
    """The gate `profile` runs on the cell's executor before timing it: its verdict, or why it
    could not be evaluated, goes into the record's `gate` (`gate_error`)."""
    assert cell.workload is not None
    known = annotations or read_annotations(cell.workload.data_config())
    reference_model = copy.deepcopy(float_model).cpu().float().eval()

    def check(executor: Executor, record: Record) -> None:
        try:
            if executor.forward is None:
                raise RuntimeError(f"the {executor.runtime} executor offers no forward to evaluate")
            with executor.settings():
                reference = evaluate(reference_model, cell, known)
                as_run = evaluate(_Forward(executor.forward), cell, known)
            record["gate"] = gate_of(reference, as_run, cell.options.require_accuracy)
        except Exception as exc:  # the cell is still timed; the record says why
            record["gate_error"] = one_line(exc)

    return check
