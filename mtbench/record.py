"""The result record: one JSON object per cell, and the one place its layout is declared.

Three writers fill it (the measurement, `mtbench.measure.profile`; training and evaluation,
`mtbench.train.trainer`; the suite runner, which names the cell) and every reader (tables,
`show`, `compare`, the report's frame, the runner's skip list) reads it through `read_record`,
which gives records of every layout since the first release the same keys: a key a record
predates reads as None (or its documented default), never as a KeyError.

Units: params are counts; GFLOPs are per clip, one fused multiply-add = one FLOP; latencies
are milliseconds per clip (a run of batch B divided by B); memory is MiB.
"""

from __future__ import annotations

import copy
from typing import Any, Literal, TypedDict


class Contention(TypedDict):
    """How busy the machine was over a timing's repeats (mtbench.measure.contention), summed
    over the timed windows only: shares are of the cores' time over those windows."""

    others_share: float | None  # other processes' CPU time / (wall x cores); None: no /proc/stat
    others_cores: float | None  # the same in cores: others_share x cores
    pressure_some: float | None  # share of the wall time some task waited for a CPU (PSI)
    load_before: float | None  # 1-minute load average at the first repeat
    load_after: float | None  # and at the last
    wall_s: float  # wall seconds of the timed windows
    own_cpu_s: float  # this process's CPU seconds over them (all its threads)
    cores: int  # logical CPUs of the machine
    threads: int  # torch threads of the timed cell


class Latency(TypedDict):
    """One timed measurement: per-clip milliseconds over `repeats` runs after warm-up."""

    median: float
    p10: float
    p90: float
    cv: float  # population standard deviation / mean of the per-clip times
    repeats: int
    samples: list[float]  # every repeat's per-clip time in timing order ([] in old records)
    contention: Contention | None  # None in records older than the field
    verdict: Literal["clean", "disturbed", "unknown"]  # old records read as unknown
    reasons: list[str]  # why disturbed (or unknown); [] when clean


class Provenance(TypedDict):
    """Which code built the model: origin (built-in, import, entry-point, callable, hub),
    module, file, the file's sha256 and the package version."""

    origin: str
    source: str
    module: str | None
    file: str | None
    sha256: str | None
    version: str | None


class Measurement(TypedDict):
    """What `mtbench profile` writes: the model, the conditions it ran under, its figures."""

    model: str  # registry name
    family: str | None
    provenance: Provenance | None
    model_kwargs: dict[str, Any]
    input_shape: list[int]  # [B, C, T, H, W] of the timed clip
    batch_size: int | None  # B
    # Conditions: the options it ran under (mtbench.options declares each).
    dtype: str  # float32 | bfloat16 | float16
    device: str  # the device that ran: cpu | cuda (the option's "auto" resolved)
    channels_last: bool
    compile: bool
    compile_mode: str
    cuda_graphs: bool
    amp: bool
    precision: str  # what ran in low precision: autocast | cast | float32
    cudnn_benchmark: bool | None
    count_norm: bool  # whether normalisation layers count in GFLOPs
    threads: int  # CPU threads torch used
    warmup: int
    breakdown_depth: int | None  # the breakdown's module depth as asked (None: the default)
    runtime: str  # what ran the timed forward: pytorch, or a runtime running the exported graph
    interleaved: bool  # latencies timed in rounds with the suite's other cells (False: alone)
    # Figures; None where not measured.
    params_total: int | None
    params_trainable: int | None
    gflops: float | None  # fvcore, per clip
    gflops_ptflops: float | None  # ptflops' aten backend, per clip
    flops_rel_diff: float | None  # |fvcore - ptflops| / max of the two
    flops_skipped_ops: list[str] | None  # operators neither counter counted
    latency_fwd_ms: Latency | None  # forward, inference mode
    latency_fwdbwd_ms: Latency | None  # forward + backward, no optimizer step
    # Peak memory growth over one run of `peak_mem_pass`, in a pass of its own after one
    # untimed run (never during a timing): CUDA's allocator peak, or the CPU's resident set.
    peak_mem_mb: float | None
    # fwdbwd: a training step without the optimizer (PyTorch); fwd: a forward (a runtime,
    # which has no training step); None in records older than the field (timed runs then).
    peak_mem_pass: Literal["fwdbwd", "fwd"] | None
    # Where the cost goes (mtbench.measure.breakdown): rows by module and by operator kind,
    # both counters' FLOPs, bytes moved, profiled times; None where not asked.
    breakdown: dict[str, Any] | None
    # A runtime cell's export and its proof of equality (mtbench.deploy.cell, docs/deploy.md):
    # runtime version, exporter, opset, nodes, operator histogram, file bytes, export seconds,
    # precision, max |diff| / max |logit| against PyTorch eager float32; None for PyTorch.
    deploy: dict[str, Any] | None
    # mtbench.measure.environment: versions, CPU, GPU, commit; with a breakdown, `ceilings`
    # (mtbench.measure.ceilings: the machine's peak compute and bandwidth).
    env: dict[str, Any] | None
    status: Literal["ok", "failed"]
    error: str | None  # `Type: first line` of a failure
    started_at: str  # ISO 8601, UTC
    finished_at: str | None


class TrainingResult(TypedDict, total=False):
    """What training and evaluation add to a training cell's record."""

    top1: float  # % of test videos, views averaged (VIEW_AVERAGE)
    top5: float
    mean_class_acc: float
    dataset: str  # name with its class count, e.g. "ucf101 (101 classes)"
    dataset_kind: str
    split: int
    num_classes: int
    views: str  # "clipsxcrops", e.g. "10x3"
    view_average: str
    epochs: int
    seed: int
    train_time_s: float
    train_clips_per_s: float | None
    eval_clips_per_s: float
    data_wait_frac: float | None  # share of training time spent waiting for data
    skipped_videos: int
    skipped_paths: list[str]
    num_train_videos: int
    num_test_videos: int
    num_test_scored: int
    final_train_loss: float | None
    train_curve: list[dict[str, Any]]  # per epoch: epoch, lr, loss, train_top1
    final_train_top1: float | None
    world_size: int
    checkpoint: str | None  # relative to the store
    data_fingerprint: str
    train_data_fingerprint: str
    top1_by_duration: dict[str, float | None]  # multiduration test sets: short/medium/long
    decoder: str | None  # the video reader and its version, e.g. "pyav-18.1.0"
    decode_threads: int | None  # decoder threads per video (None: nothing was decoded)


class CellPart(TypedDict, total=False):
    """What the suite runner adds: which suite and cell the record answers."""

    suite: str
    cell_key: str  # stable hash of the cell's configuration (mtbench.suite.grid.cell_key)
    label: str
    workload: dict[str, Any]  # the cell's [data], [train], [eval], defaults filled
    seed_group: str  # cells differing only in train.seed share it


class Record(Measurement, TrainingResult, CellPart):
    """A whole record: the measurement, and for a suite cell its cell and training parts."""


# What a record that predates a key reads as (None for every key not named here).
_DEFAULTS: dict[str, Any] = {
    "model_kwargs": {},
    "input_shape": [],
    "count_norm": True,
    "compile": False,
    "compile_mode": "default",
    "cuda_graphs": False,
    "amp": False,
    "channels_last": False,
    "runtime": "pytorch",
    "interleaved": False,
    "status": "unknown",
}
# What a timing that predates the contention fields reads as: never `clean`.
_LATENCY_DEFAULTS: dict[str, Any] = {
    "contention": None,
    "verdict": "unknown",
    "reasons": ["timed before mtbench measured the machine's contention"],
}
MEASUREMENT_KEYS = tuple(Measurement.__annotations__)
LATENCY_KEYS = ("latency_fwd_ms", "latency_fwdbwd_ms")


def new_record(identity: dict[str, Any], conditions: dict[str, Any], started_at: str) -> Record:
    """A measurement's record with every figure unset: what a failed cell stores.

    `identity` names the model (model, family, provenance, model_kwargs, input_shape) and
    `conditions` the options it runs under; the figures are filled as they are measured.
    """
    shape = list(identity["input_shape"])
    record: dict[str, Any] = {key: None for key in MEASUREMENT_KEYS}
    record.update(identity, input_shape=shape, batch_size=shape[0] if shape else None)
    record.update(conditions, status="failed", started_at=started_at)
    return record  # type: ignore[return-value]


def read_record(raw: dict[str, Any]) -> Record:
    """A stored record of any layout with every measurement key present (older records
    lack some), the stored values untouched; a deep copy, so readers cannot alter the store."""
    record = copy.deepcopy(raw)
    for key in MEASUREMENT_KEYS:
        if key not in record:
            record[key] = copy.deepcopy(_DEFAULTS.get(key))
    for key in LATENCY_KEYS:
        if not isinstance(record[key], dict):
            record[key] = None
        elif "verdict" not in record[key]:
            record[key].update(copy.deepcopy(_LATENCY_DEFAULTS))
    return record  # type: ignore[return-value]


def with_cell(record: Record, part: CellPart) -> Record:
    """The record of a suite cell: the runner's part added to what was measured."""
    record.update(part)  # type: ignore[typeddict-item]
    return record


def verdict_of(record: Record) -> str | None:
    """The cell's timing verdict: `disturbed` if any timing is, `unknown` if any is, else
    `clean`; None when nothing was timed. `record` as `read_record` gives it."""
    said = [stats["verdict"] for key in LATENCY_KEYS if (stats := record[key]) is not None]
    if not said:
        return None
    return next((v for v in ("disturbed", "unknown") if v in said), "clean")


def is_trained(record: Record) -> bool:
    return record.get("top1") is not None


def execution_summary(record: Record) -> str:
    """How a record's model ran, in words: 'compiled (max-autotune), CUDA graph replay,
    autocast bfloat16, cudnn benchmark'."""
    parts = [
        f"compiled ({record['compile_mode']})" if record["compile"] else "eager",
        *(["CUDA graph replay"] if record["cuda_graphs"] else []),
        {
            "autocast": f"autocast {record['dtype']} (float32 weights)",
            "cast": f"model cast to {record['dtype']}",
            "float32": "float32",
        }.get(record["precision"] or "float32", str(record["precision"])),
        *(["cudnn benchmark"] if record["cudnn_benchmark"] else []),
    ]
    return ", ".join(parts)
