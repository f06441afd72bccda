"""Train and evaluate one suite cell: the workload half of a training cell's record.

Data flows one way: the data package's readers and clip datasets -> DataLoader -> the loop
here -> checkpoint and log files under `<store>/cells/<cell_key>/` and the figures this
returns. Everything a run needs to continue is in `last.pt`, so re-running an interrupted
suite continues each cell from its last checkpoint and ends with the same weights.
"""

from __future__ import annotations

import contextlib
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from functools import partial
from pathlib import Path
from typing import Any

import torch
from torch import nn
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import DataLoader

from mtbench.data import (
    Annotations,
    build_dataset,
    collate,
    data_fingerprint,
    read_annotations,
)
from mtbench.data.decode import decoder_fields
from mtbench.measure.latency import autocast_to
from mtbench.measure.profile import resolve_device
from mtbench.record import TrainingResult, TrainStep
from mtbench.registry import create_model
from mtbench.store_layout import cell_folder
from mtbench.train.checkpoint import (
    LAST,
    load_checkpoint,
    rng_state,
    save_checkpoint,
    set_rng_state,
)
from mtbench.train.distributed import (
    all_reduce_sum,
    barrier,
    broadcast_object,
    current_world,
    gather_objects,
)
from mtbench.train.evaluate import (
    SCORES,
    VIEW_AVERAGE,
    ViewScores,
    run_views,
    score,
    write_reports,
)
from mtbench.train.finetune import freeze, hold_frozen, load_pretrained, trainable
from mtbench.train.log import TrainLog
from mtbench.train.progress import TrainProgress
from mtbench.train.sampler import EpochBatchSampler
from mtbench.train.schedule import LRSchedule, long_cycle, shape_at, short_cycle_shape

# The paper's spelling of each dataset (Table 4), so records join its reference numbers.
_DATASET_NAMES = {"ucf101": "UCF-101", "hmdb51": "HMDB-51"}
_KINETICS = {400: "K-400", 600: "K-600", 700: "K-700"}


class TrainingError(RuntimeError):
    """A run that cannot go on (a NaN loss): one line, the cell fails, the suite goes on."""


def dataset_name(kind: str, num_classes: int) -> str:
    if kind == "kinetics":
        return _KINETICS.get(num_classes, "Kinetics")
    return _DATASET_NAMES.get(kind, kind)


@dataclass
class Setup:
    """What one cell's training needs, built once."""

    model: nn.Module
    net: nn.Module  # the model, wrapped in DDP when distributed
    optimizer: torch.optim.Optimizer
    schedule: LRSchedule
    scaler: torch.amp.GradScaler
    frozen: list[nn.Module]
    device: torch.device
    autocast: Callable[[], contextlib.AbstractContextManager]


def _amp_dtype(train: dict[str, Any], device: torch.device) -> torch.dtype | None:
    """Autocast's dtype, None without AMP; CPU autocast runs bfloat16 only."""
    if not train["amp"]:
        return None
    return torch.bfloat16 if device.type == "cpu" else getattr(torch, train["amp_dtype"])


def _setup(cell, num_classes_kw: dict[str, Any], device: torch.device) -> Setup:
    train = cell.workload.train
    torch.manual_seed(train["seed"])
    model = create_model(cell.model, **{**cell.kwargs, **num_classes_kw})
    if train["init_from"]:
        load_pretrained(model, train["init_from"])
    frozen = freeze(model, train["freeze"])
    model.to(device)
    world = current_world()
    net = model
    if world.distributed:
        ids = [device.index] if device.type == "cuda" else None
        net = DistributedDataParallel(model, device_ids=ids)
    optimizer = torch.optim.SGD(
        trainable(model),
        lr=train["lr"],
        momentum=train["momentum"],
        nesterov=train["nesterov"] and train["momentum"] > 0,
        weight_decay=train["weight_decay"],
        fused=True,  # one kernel over all parameters: the loop was a sixth of r3d-18's CPU step
    )
    use_scaler = device.type == "cuda" and train["amp"] and train["amp_dtype"] == "float16"
    return Setup(
        model,
        net,
        optimizer,
        LRSchedule(optimizer, train),
        torch.amp.GradScaler(device.type, enabled=use_scaler),
        frozen,
        device,
        partial(autocast_to, device, _amp_dtype(train, device)),
    )


def _loader(dataset, batch_sampler, workers: int, seed: int) -> DataLoader:
    return DataLoader(
        dataset,
        batch_sampler=batch_sampler,
        num_workers=workers,
        collate_fn=collate,
        pin_memory=torch.cuda.is_available(),
        generator=torch.Generator().manual_seed(seed),
    )


def _epoch_sampler(cell, dataset, epoch: int) -> EpochBatchSampler:
    """This rank's batches of `epoch`, with the multigrid shape of each step when it is on."""
    train, data = cell.workload.train, cell.workload.data
    world = current_world()
    shape_of = None
    if train["multigrid"]:
        phase = shape_at(long_cycle(train, data["frames"], data["crop"]), epoch)

        def shape_of(step: int) -> tuple[int, int, int]:
            if train["short_cycle"]:
                crop, batch = short_cycle_shape(phase, step, data["crop"])
                return phase.frames, crop, batch
            return phase.frames, phase.crop, phase.batch_size

    return EpochBatchSampler(
        len(dataset),
        train["batch_size"],
        seed=train["seed"],
        epoch=epoch,
        rank=world.rank,
        world_size=world.size,
        shape_of=shape_of,
    )


def _train_epoch(
    cell, setup: Setup, dataset, epoch: int, progress: TrainProgress
) -> dict[str, Any]:
    """One epoch; returns its log line (loss, top-1, clips/s, data wait, seconds)."""
    train = cell.workload.train
    dataset.set_epoch(epoch)
    sampler = _epoch_sampler(cell, dataset, epoch)
    loader = _loader(dataset, sampler, cell.workload.data["workers"], train["seed"] + epoch)
    criterion = nn.CrossEntropyLoss(label_smoothing=train["label_smoothing"])
    setup.net.train()
    hold_frozen(setup.frozen)
    steps = len(sampler)
    progress.start_epoch(epoch, steps)
    loss_sum = correct = clips = 0.0
    wait = 0.0
    skipped: list[str] = []
    start = tick = time.perf_counter()
    for step, batch in enumerate(loader):
        wait += time.perf_counter() - tick
        lr = setup.schedule.step(epoch + step / steps)
        video = batch["video"].to(setup.device, non_blocking=True)
        label = batch["label"].to(setup.device, non_blocking=True)
        with setup.autocast():
            logits = setup.net(video)
            loss = criterion(logits.float(), label)
        value = loss.item()  # one device sync per step, shared by the check, sum and progress
        if not math.isfinite(value):
            raise TrainingError(f"loss is {value} at epoch {epoch + 1}, step {step + 1}")
        setup.optimizer.zero_grad(set_to_none=True)
        setup.scaler.scale(loss).backward()
        if train["clip_grad"] > 0:
            setup.scaler.unscale_(setup.optimizer)
            nn.utils.clip_grad_norm_(trainable(setup.model), train["clip_grad"])
        setup.scaler.step(setup.optimizer)
        setup.scaler.update()
        n = len(label)
        loss_sum += value * n
        correct += (logits.argmax(dim=1) == label).sum().item()
        clips += n
        skipped.extend(batch["skipped"])
        progress.step(value, lr, clips / (time.perf_counter() - start))
        tick = time.perf_counter()
    seconds = time.perf_counter() - start
    loss_sum, correct, clips, wait_sum, seconds_sum = all_reduce_sum(
        [loss_sum, correct, clips, wait, seconds], setup.device
    )
    world = current_world().size
    skipped = sorted({p for part in gather_objects(skipped) for p in part})
    return {
        "epoch": epoch + 1,
        "lr": setup.optimizer.param_groups[0]["lr"],
        "loss": loss_sum / max(clips, 1),
        "train_top1": 100.0 * correct / max(clips, 1),
        "clips_per_s": clips / (seconds_sum / world),
        "data_wait_frac": wait_sum / seconds_sum if seconds_sum else 0.0,
        "seconds": seconds_sum / world,
        "steps": steps,
        "skipped": skipped,
    }


def _checkpoint_state(cell, setup: Setup, epoch: int, train_time: float) -> dict[str, Any]:
    rngs = gather_objects(rng_state())
    train, data = cell.workload.train, cell.workload.data
    multigrid = None
    if train["multigrid"] and epoch < train["epochs"]:
        multigrid = shape_at(long_cycle(train, data["frames"], data["crop"]), epoch).__dict__
    return {
        "model": setup.model.state_dict(),
        "optimizer": setup.optimizer.state_dict(),
        "scheduler": setup.schedule.state_dict(),
        "scaler": setup.scaler.state_dict(),
        "epoch": epoch,
        "rng": rngs,
        "sampler": {"seed": train["seed"], "next_epoch": epoch},
        "multigrid": multigrid,
        "train_time_s": train_time,
        "config": cell.config(),
    }


def _resume(setup: Setup, path: Path, cell) -> tuple[int, float]:
    """Load `path` into the setup: returns (epochs done, training seconds so far)."""
    state = load_checkpoint(path)
    if state.get("config") != cell.config():
        raise TrainingError(f"{path} was written by another configuration; delete it to retrain")
    setup.model.load_state_dict(state["model"])
    setup.optimizer.load_state_dict(state["optimizer"])
    setup.scaler.load_state_dict(state["scaler"])
    setup.schedule.load_state_dict(state["scheduler"])
    world = current_world()
    rngs = state["rng"]
    if len(rngs) != world.size:
        raise TrainingError(
            f"{path} was written by {len(rngs)} processes, this run has {world.size}"
        )
    set_rng_state(rngs[world.rank])
    return state["epoch"], state["train_time_s"]


@dataclass
class TrainedCell:
    """What training and evaluation leave: the record's training part and the network they
    ran, which the cell's measurements then use (one build per cell)."""

    result: TrainingResult
    model: nn.Module


def train_and_evaluate(
    cell,
    store: Path,
    progress: TrainProgress,
    eval_views: dict[str, int] | None = None,
    annotations: Annotations | None = None,
) -> TrainedCell:
    """Train the cell (resuming from its checkpoint), evaluate it, return the record fields.

    With `eval_views` ({"clips": K, "crops": C}) nothing is trained: the cell's final
    checkpoint is evaluated with those views. `annotations`, when the suite already read
    them while validating, are not read again.
    """
    world = current_world()
    config = cell.workload.data_config()
    annotations = annotations or read_annotations(config)
    num_classes = cell.kwargs.get("num_classes", len(annotations.classes))
    setup = _setup(cell, {"num_classes": num_classes}, _device(cell, world))
    folder = cell_folder(store, cell.key)
    log, train_time = _train(cell, setup, folder, annotations, progress, eval_views)
    evaluation = {**cell.workload.eval, **(eval_views or {})}
    metrics, views, eval_rate = _evaluate(cell, setup, evaluation, annotations, progress)
    tag = "" if eval_views is None else f"-{evaluation['clips']}x{evaluation['crops']}"
    if world.is_main:
        views.save(folder / SCORES.replace(".pt", f"{tag}.pt"))
        write_reports(folder, metrics, annotations.classes, tag)
    result = _training_result(cell, store, log, train_time, metrics, views, annotations)
    result.update(views=f"{evaluation['clips']}x{evaluation['crops']}", eval_clips_per_s=eval_rate)
    return TrainedCell(result, setup.model)


def trained_network(cell, store: Path, num_classes: int) -> nn.Module:
    """The cell's trained network from its final checkpoint, nothing trained or evaluated:
    what re-timing a trained cell measures (its stored accuracy stands)."""
    path = cell_folder(store, cell.key) / LAST
    if not path.exists():
        raise TrainingError(f"{path} is missing: the cell must be trained again to be re-timed")
    state = load_checkpoint(path)
    if state.get("epoch") != cell.workload.train["epochs"] or state.get("config") != cell.config():
        raise TrainingError(f"{path} is not this cell's finished training; run the suite first")
    model = create_model(cell.model, **{"num_classes": num_classes, **cell.kwargs})
    model.load_state_dict(state["model"])
    freeze(model, cell.workload.train["freeze"])
    return model


def _train(
    cell,
    setup: Setup,
    folder: Path,
    annotations: Annotations,
    progress: TrainProgress,
    eval_views: dict[str, int] | None,
) -> tuple[list[dict[str, Any]], float]:
    """The epochs not done yet (none when only evaluating): the log lines of every epoch,
    on every rank, and the training seconds so far."""
    train, world = cell.workload.train, current_world()
    ckpt_path = folder / LAST
    train_set = build_dataset(
        cell.workload.data_config(),
        "train",
        train=True,
        seed=train["seed"],
        annotations=annotations,
    )
    done, train_time = (0, 0.0)
    if ckpt_path.exists():
        done, train_time = _resume(setup, ckpt_path, cell)
    if eval_views is not None and done < train["epochs"]:
        raise TrainingError(
            f"{ckpt_path}: training has not finished ({done} of {train['epochs']} epochs);"
            " run the suite first"
        )
    train_log = TrainLog(folder, done, write=world.is_main)
    progress.start_training(train["epochs"], done)
    for epoch in range(done, train["epochs"]):
        line = _train_epoch(cell, setup, train_set, epoch, progress)
        train_time += line["seconds"]
        train_log.append(line)
        progress.end_epoch(line)
        last = epoch + 1 == train["epochs"]
        if last or (epoch + 1) % train["checkpoint_every"] == 0:
            state = _checkpoint_state(cell, setup, epoch + 1, train_time)
            if world.is_main:
                save_checkpoint(ckpt_path, state)
            barrier()
    train_log.close()
    return broadcast_object(train_log.lines), train_time


def test_loader(
    cell, evaluation: dict[str, Any], annotations: Annotations, shard: bool = True
) -> DataLoader:
    """The test split's views as the evaluation scores them: this rank's share of the videos
    (`shard`), or all of them (the accuracy gate of mtbench.suite.quantized)."""
    world = current_world()
    test_set = build_dataset(
        cell.workload.data_config(),
        "test",
        train=False,
        seed=cell.workload.train["seed"],
        clips=evaluation["clips"],
        crops=evaluation["crops"],
        annotations=annotations,
    )
    # Sharded by video with no padding: every test video is scored exactly once.
    mine = list(range(world.rank, len(test_set), world.size) if shard else range(len(test_set)))
    batches = [
        mine[i : i + evaluation["batch_size"]]
        for i in range(0, len(mine), evaluation["batch_size"])
    ]
    return _loader(test_set, batches, cell.workload.data["workers"], cell.workload.train["seed"])


def _evaluate(
    cell,
    setup: Setup,
    evaluation: dict[str, Any],
    annotations: Annotations,
    progress: TrainProgress,
):
    """Score the test split with the evaluation's views; (metrics, views, clips per s)."""
    loader = test_loader(cell, evaluation, annotations)
    progress.start_eval(sum(len(batch) for batch in loader.batch_sampler))
    views, eval_rate = run_views(
        setup.model,
        loader,
        device=setup.device,
        clips=evaluation["clips"],
        crops=evaluation["crops"],
        classes=annotations.classes,
        autocast=setup.autocast,
        on_step=progress.eval_step,
    )
    return score(views), views, eval_rate


def _training_result(
    cell, store: Path, log: list[dict[str, Any]], train_time: float, metrics, views, annotations
) -> TrainingResult:
    """The record's training part, from the log, the scores and the data."""
    config, train = cell.workload.data_config(), cell.workload.train
    ckpt_path = cell_folder(store, cell.key) / LAST
    last_line = log[-1] if log else {}
    train_seconds = sum(line["seconds"] for line in log)
    train_clips = sum(line["clips_per_s"] * line["seconds"] for line in log)
    wait = sum(line["data_wait_frac"] * line["seconds"] for line in log)
    skipped = sorted({p for line in log for p in line["skipped"]} | set(views.missing))
    result = TrainingResult(
        top1=metrics.top1,
        top5=metrics.top5,
        mean_class_acc=metrics.mean_class_acc,
        dataset=dataset_name(config.dataset, len(annotations.classes)),
        dataset_kind=config.dataset,
        split=config.split,
        num_classes=len(annotations.classes),
        view_average=VIEW_AVERAGE,
        epochs=train["epochs"],
        seed=train["seed"],
        train_time_s=train_time,
        train_clips_per_s=train_clips / train_seconds if train_seconds else None,
        data_wait_frac=wait / train_seconds if train_seconds else None,
        skipped_videos=len(skipped),
        skipped_paths=skipped,
        num_train_videos=len(annotations.splits["train"]),
        num_test_videos=len(annotations.splits["test"]),
        num_test_scored=metrics.videos,
        final_train_loss=last_line.get("loss"),
        train_curve=[{k: line[k] for k in TrainStep.__annotations__} for line in log],
        final_train_top1=last_line.get("train_top1"),
        world_size=current_world().size,
        checkpoint=str(ckpt_path.relative_to(store)) if ckpt_path.exists() else None,
        data_fingerprint=data_fingerprint(config, annotations, "test"),
        train_data_fingerprint=data_fingerprint(config, annotations, "train"),
        **decoder_fields(config),
    )
    result.update(top1_by_duration(views, config))
    return result


def top1_by_duration(views: ViewScores, config) -> dict[str, Any]:
    """{"top1_by_duration": {"short": %, "medium": %, "long": %}} when the test videos carry
    their action's duration (multiduration); buckets come from the dataset's duration knobs,
    so runs with the same knobs compare bucket for bucket. A bucket without videos is None."""
    if "duration" not in views.extra:
        return {}
    from mtbench.data.multiduration import BUCKETS, duration_bucket

    buckets = [duration_bucket(config, int(d)) for d in views.extra["duration"]]
    top1: dict[str, float | None] = {}
    for name in BUCKETS:
        keep = torch.tensor([b == name for b in buckets], dtype=torch.bool)
        part = replace(views, scores=views.scores[keep], labels=views.labels[keep])
        top1[name] = score(part).top1 if keep.any() else None
    return {"top1_by_duration": top1}


def _device(cell, world) -> torch.device:
    device = resolve_device(cell.options.device)
    if device.type == "cuda" and world.distributed:
        return torch.device("cuda", world.local_rank)
    return device
