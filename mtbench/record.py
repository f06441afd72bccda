"""The result record: one JSON object per cell, and the one place its layout is declared.

Three writers fill it (the measurement, `mtbench.measure.profile`; training and evaluation,
`mtbench.train.trainer`; the suite runner, which names the cell) and every reader (tables,
`show`, `compare`, the report's frame, the runner's skip list) reads it through `read_record`,
which gives records of every layout since the first release the same keys: a key a record
predates reads as None (or its documented default), never as a KeyError.

Units: params are counts; GFLOPs are per clip, one fused multiply-add = one FLOP; latencies
are milliseconds per clip (a run of batch B divided by B); memory is MiB.

Every nested part is declared here too (`Latency` with its `Contention`, `Breakdown` with its
rows, `Deploy`, `Quantization` with its `Fidelity`, `Audit` and `Gate`, `Env` with its
`Ceilings`, `TrainStep`), so a reader indexes a declared key.
A record written since the layout was versioned says which it has in `schema` (`SCHEMA`);
the earlier layouts have no `schema` key and read as `schema` 0, each key they predate as
None (or its documented default). Names: a timed pass is `fwd` or `fwdbwd`; the measure
that times it is `latency_<pass>`, its record key `latency_<pass>_ms` (a `Latency`), and
`latency_key` gives one from the other.
"""

from __future__ import annotations

import copy
import sys
from typing import Any, Literal, TypedDict

if sys.version_info >= (3, 11):
    from typing import NotRequired
else:  # torch depends on typing_extensions
    from typing_extensions import NotRequired

# The record's layout version, written in every new record. 1: the first layout that says
# its version (nested parts declared, `deploy`, `runtime`, contention); 0: every earlier one.
SCHEMA = 1


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
    runs_per_repeat: int  # runs each repeat timed back to back (1; absent in old records)


class CeilingFigures(TypedDict):
    """The machine's peaks (mtbench.measure.ceilings) at the cell's device, dtype and threads:
    the best of a few runs each."""

    entry: str  # "cpu/float32/2 threads"
    threads: int
    gemm_gflops: float  # a large square matrix product, GFLOP/s (1 multiply-add = 1 FLOP)
    conv3d_gflops: float  # a large dense 3x3x3 conv3d, GFLOP/s
    copy_gbs: float  # a large copy, GB/s (2 x size bytes)
    add_gbs: float  # a large add, GB/s (3 x size bytes)
    measured_at: str  # ISO 8601, UTC: the newest figure's


class Ceilings(CeilingFigures, total=False):
    """The peaks and, since ceilings are judged, the worst of the four figures' verdicts
    (disturbed, unknown, clean) and each figure's: its verdict, reasons, timed windows and
    time. Records from before have neither (they read as unknown)."""

    verdict: Literal["clean", "disturbed", "unknown"]
    verdicts: dict[str, CeilingVerdict]


class CeilingVerdict(TypedDict):
    """How busy the machine was while one ceiling was measured (mtbench.measure.contention)."""

    verdict: Literal["clean", "disturbed", "unknown"]
    reasons: list[str]
    tries: int  # windows measured (a disturbed one is measured again, a few times at most)
    measured_at: str  # ISO 8601, UTC


class CeilingsFailure(TypedDict):
    """What `env.ceilings` holds when measuring the ceilings failed: the one-line reason."""

    error: str


class Env(TypedDict, total=False):
    """What a number was measured on (mtbench.measure.environment). Every layout has the
    versions, platform, device name, CPU, threads and commit; the ISA and GPU keys are absent
    from records of the first releases, `ceilings` from records without a breakdown."""

    torch: str
    torchvision: str
    mtbench: str
    python: str
    platform: str
    device_name: str  # the GPU's name on CUDA, else the CPU model
    cpu: str  # the CPU model
    threads: int  # torch's CPU threads when the environment was read
    cpu_capability: str  # ATen's vectorised kernels' ISA, e.g. "AVX512"
    onednn_max_cpu_isa: str  # the cap on oneDNN's ISA ("default": none)
    onednn: str  # oneDNN's version ("" where not named)
    gpu: str | None  # None on CPU
    cuda: str | None
    cudnn: int | None
    git_commit: str | None  # None for an installed copy without git
    ceilings: Ceilings | CeilingsFailure  # with a breakdown only


class ModuleRow(TypedDict):
    """One row of a breakdown by module (stored as a list in `MODULE_COLUMNS` order)."""

    module: str  # module path at the breakdown's depth, or "(outside modules)"
    params: int
    gflops: float | None  # fvcore, per clip
    gflops_ptflops: float | None
    out_mib: float | None  # the module's output, MiB
    moved_mb: float | None  # bytes its operators read and write, MB
    fwd_ms: float | None  # profiled forward time per clip
    fwdbwd_ms: float | None  # profiled forward+backward time per clip


class OpRow(TypedDict):
    """One row of a breakdown by kind of operator (stored as a list in `OP_COLUMNS` order)."""

    kind: str  # mtbench.measure.opkinds.KINDS, or "(outside operators)"
    gflops: float | None
    gflops_ptflops: float | None
    moved_mb: float | None
    fwd_ms: float | None
    fwdbwd_ms: float | None


MODULE_COLUMNS = tuple(ModuleRow.__annotations__)
OP_COLUMNS = tuple(OpRow.__annotations__)


class Breakdown(TypedDict):
    """Where the cost goes (mtbench.measure.breakdown): rows as lists under their column names,
    the profiled totals beside the un-profiled medians. Rows are absent when the breakdown
    failed before counting, the times for a pass that was not profiled."""

    depth: int
    error: str | None  # why the breakdown stopped; None when complete
    module_columns: NotRequired[list[str]]  # MODULE_COLUMNS
    modules: NotRequired[list[list[Any]]]  # ModuleRow values, "(outside modules)" last
    op_columns: NotRequired[list[str]]  # OP_COLUMNS
    ops: NotRequired[list[list[Any]]]  # OpRow values, "(outside operators)" last
    fwd_ms: NotRequired[float | None]  # profiled forward per clip
    unprofiled_fwd_ms: NotRequired[float | None]  # the un-profiled median beside it
    fwdbwd_ms: NotRequired[float | None]
    unprofiled_fwdbwd_ms: NotRequired[float | None]
    time_source: str | None  # "cpu wall clock" | "cuda device time"; None when not timed
    verdict: Literal["clean", "disturbed", "unknown"] | None  # of the cell's same timings


class Deploy(TypedDict):
    """A runtime cell's export and its proof of equality (mtbench.deploy, docs/deploy.md)."""

    runtime_version: str
    path: str  # the exported file's name in the cell's folder
    exporter: str  # "torch.onnx dynamo", "torch.onnx torchscript", "openvino.convert_model"
    opset: int | None  # the ONNX opset; None for OpenVINO's own IR
    nodes: int
    operators: dict[str, int]  # operator type -> count
    file_bytes: int  # the graph file and its weights
    export_s: float
    cached: bool  # read from an earlier run's file instead of exported now
    precision: str  # what the runtime computed in
    max_rel_diff: float  # max |diff| / max |logit| against PyTorch eager float32
    threshold: float  # the largest max_rel_diff accepted for the cell's dtype


class LoadGenRun(TypedDict):
    """One run of MLPerf's LoadGen as its `mlperf_log_summary.txt` concluded it (times in
    ms; None where the scenario's summary has no such line)."""

    scenario: str  # LoadGen's name: SingleStream, MultiStream, Server, Offline
    result: Literal["VALID", "INVALID"]
    failed: list[str]  # the constraints it found unmet, e.g. "min duration", "early stopping"
    percentiles_ms: dict[str, float]  # "p50", "p90", "p95", "p97", "p99", "p99.9" per query
    min_ms: float | None
    mean_ms: float | None
    max_ms: float | None
    early_stopping_ms: dict[str, float]  # "p90": early stopping's estimate, where it made one
    early_stopping: list[str]  # its lines, as LoadGen wrote them
    qps_with_overhead: float | None  # single/multi-stream: with LoadGen's own time
    qps_without_overhead: float | None
    samples_per_s: float | None  # server: completed; offline: the throughput
    scheduled_samples_per_s: float | None  # server: the Poisson schedule's rate
    loadgen_version: str | None
    parameters: dict[str, str]  # "Test Parameters Used", as LoadGen printed them
    logs: list[str]  # the summary and detail logs, relative to the cell's folder ([]: no folder)
    # Per query, timed by the system under test from issue to completion (latency.kept_samples)
    latencies_ms: NotRequired[list[float]]


class CurvePoint(TypedDict):
    """One step of a search: the value tried and what the run there concluded."""

    at: float  # target QPS (server), batch (offline) or frames per second (stream)
    passed: bool  # the criterion the search holds (latency bound, no out-of-memory, misses)
    why: str | None  # why it did not pass
    p90_ms: float | None
    p99_ms: float | None
    throughput: float | None  # completed queries/s, clips/s or frames/s sustained
    miss_rate: float | None  # stream only
    result: str | None  # LoadGen's VALID / INVALID; None for a stream or a failed build


class Search(TypedDict):
    """A scenario's search: over what, every step in order, and the best value that passed."""

    over: Literal["target_qps", "batch", "fps"]
    curve: list[CurvePoint]
    found: float | None  # None: no step passed (`note` says so)
    note: str | None


class StreamRun(TypedDict):
    """A live stream at `fps`: windows of `window` frames every `stride` frames, each
    classified once its last frame arrived; latency from that arrival to its logits."""

    fps: float
    window: int
    stride: int
    source: Literal["frames", "video"]  # pre-decoded, or decoded from a video as they arrive
    video: NotRequired[str]  # source video: the user's file as given, or how it was generated
    windows: int
    misses: int  # windows not finished when the next one was due
    miss_rate: float
    p50_ms: float
    p90_ms: float
    p99_ms: float
    max_ms: float
    sustained_fps: float  # frames the classifier covered per second of the run
    forward_ms: float  # median of the forwards alone (latency.time_one)
    latencies_ms: NotRequired[list[float]]  # per window (latency.kept_samples)


class Scenario(TypedDict):
    """How a measure-only cell was driven besides `repeat` (mtbench.measure.scenarios): the
    settings, LoadGen's conclusion or the stream's, and a search's curve."""

    name: str  # single-stream, multi-stream, server, offline, stream
    settings: dict[str, Any]  # min_duration_s, min_query_count, target_qps, ... as run
    short: bool  # shorter than MLPerf asks (600 s): never MLPerf-valid
    mlperf_valid: bool  # LoadGen said VALID and the run was not short
    label: str  # what a table says of it, e.g. "short run: not MLPerf-valid"
    loadgen: LoadGenRun | None  # the run (a search's best passing run, else its last)
    stream: StreamRun | None
    search: Search | None
    # The machine over the whole scenario (every run of a search): other processes on the
    # cores, as for repeats (a scenario's latencies spread by design, so no spread test).
    contention: NotRequired[Contention]
    verdict: NotRequired[str]  # clean, disturbed or unknown
    reasons: NotRequired[list[str]]


class Fidelity(TypedDict):
    """How far a quantized network's logits moved from the float32 network's on random clips:
    not an accuracy (a cell without [data] has no labels)."""

    label: str  # "not an accuracy"
    max_rel_diff: float  # max |diff| / max |float32 logit| on the fixed clip (deploy/equality)
    top1_agreement: float  # share of random clips whose top class is the float32 network's
    clips: int  # random clips the agreement is over


class Accuracy(TypedDict):
    """Top-1, top-5 and mean class accuracy (%) on the cell's evaluation clips and views."""

    top1: float
    top5: float
    mean_class_acc: float


class Gate(TypedDict):
    """A reduced-precision network (INT8, bfloat16) as the cell runs it against the float32 one
    on the cell's own evaluation data, by the same evaluation code (mtbench.suite.quantized),
    and the verdict against MLPerf's closed-division targets (99% and 99.9% of float32 top-1)."""

    float32: Accuracy
    as_run: Accuracy  # the cell's network in its dtype, through its runtime
    top1_agreement: float  # share of test videos both networks put in the same class
    videos: int
    views: str  # "clipsxcrops"
    ratio: float  # as_run top-1 / float32 top-1 (1.0 when both are 0)
    targets: dict[str, bool]  # "99%" / "99.9%" -> met
    required: float | None  # require_accuracy, when the cell asks for one
    verdict: Literal["pass", "fail"]  # against `required`, else against 99%


class Audit(TypedDict):
    """Which compute operators (convolutions, matrix products) ran in INT8 and which stayed in
    float (mtbench.deploy.audit), and the share of the network's FLOPs that ran in INT8."""

    source: str  # what was read: "openvino runtime model", "onnx qdq graph", "fx graph", ...
    int8_ops: int
    float_ops: int
    by_type: dict[str, list[int]]  # operator type -> [int8, float]
    int8_modules: list[str]  # the module paths of the INT8 operators matched to a module
    float_modules: list[str]  # the module paths (or op types) of the operators left in float
    int8_flops_share: float | None  # fvcore FLOPs of the INT8 operators' modules / all FLOPs
    matched_flops_share: float | None  # FLOPs whose module an operator was matched to / all
    match: str  # how operators were matched to modules


class Quantization(TypedDict):
    """A quantized network (dtype int8): the toolchain that made it, its settings, what it
    left in float and how far it moved (mtbench.deploy.quantize)."""

    toolchain: str  # "nncf", "onnxruntime.quantization", "torchao pt2e", "torch.ao fx"
    version: str
    settings: dict[str, Any]  # calibration clips and their source, subset, preset, types, ...
    path: str | None  # the quantized file in the cell's folder; None for PyTorch's
    cached: bool  # read from an earlier run's file instead of quantized now
    quantize_s: float
    fidelity: Fidelity
    audit: Audit


class TrainStep(TypedDict):
    """One epoch of a training curve (`train_curve`)."""

    epoch: int
    lr: float
    loss: float
    train_top1: float | None


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

    schema: int  # the layout version (SCHEMA); 0 for records written before it was recorded
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
    scenario: str  # how the forward was driven besides its repeats: repeat (only), server, ...
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
    breakdown: Breakdown | None
    # A runtime cell's export and its proof of equality; None for PyTorch.
    deploy: Deploy | None
    # What a scenario other than `repeat` concluded (LoadGen's summary, a stream, a search).
    scenario_run: Scenario | None
    # A quantized (dtype int8) cell's toolchain, settings and audit; None otherwise.
    quantization: Quantization | None
    # A reduced-precision (INT8, bfloat16) training cell's accuracy against its float32
    # network on its own evaluation clips; None for any other cell. `gate_error`: why it
    # could not be evaluated (the cell is still timed).
    gate: Gate | None
    gate_error: str | None
    env: Env | None  # versions, CPU, GPU, commit; with a breakdown, the machine's ceilings
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
    train_curve: list[TrainStep]
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
    "schema": 0,
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
    "scenario": "repeat",
    "status": "unknown",
}
# What a timing reads as where it predates a field: without the contention fields never
# `clean`; without blocks of runs one run a repeat (its verdict kept).
_LATENCY_DEFAULTS: dict[str, Any] = {
    "samples": [],
    "contention": None,
    "verdict": "unknown",
    "reasons": ["timed before mtbench measured the machine's contention"],
    "runs_per_repeat": 1,  # every repeat was one run before blocks
}
MEASUREMENT_KEYS = tuple(Measurement.__annotations__)
PASSES = ("fwd", "fwdbwd")  # the timed passes: forward, forward+backward (no optimizer step)


def latency_key(timed_pass: str) -> str:
    """The record key of a timed pass's `Latency`: 'fwd' -> 'latency_fwd_ms'."""
    return f"latency_{timed_pass}_ms"


LATENCY_KEYS = tuple(latency_key(p) for p in PASSES)


def new_record(identity: dict[str, Any], conditions: dict[str, Any], started_at: str) -> Record:
    """A measurement's record with every figure unset: what a failed cell stores.

    `identity` names the model (model, family, provenance, model_kwargs, input_shape) and
    `conditions` the options it runs under; the figures are filled as they are measured.
    """
    shape = list(identity["input_shape"])
    record: dict[str, Any] = {key: None for key in MEASUREMENT_KEYS}
    record.update(identity, input_shape=shape, batch_size=shape[0] if shape else None)
    record.update(conditions, schema=SCHEMA, status="failed", started_at=started_at)
    return record  # type: ignore[return-value]


def read_record(raw: dict[str, Any]) -> Record:
    """A stored record of any layout with every measurement key present (older records
    lack some, and read as `schema` 0), the stored values untouched; a deep copy, so readers
    cannot alter the store."""
    record = copy.deepcopy(raw)
    moved = (record.get("quantization") or {}).pop("gate", None)  # where INT8's was at first
    if moved is not None and record.get("gate") is None:
        moved["as_run"] = moved.pop("quantized")
        record["gate"] = moved
    for key in MEASUREMENT_KEYS:
        if key not in record:
            record[key] = copy.deepcopy(_DEFAULTS.get(key))
    for key in LATENCY_KEYS:
        if not isinstance(record[key], dict):
            record[key] = None
        else:
            for field, default in _LATENCY_DEFAULTS.items():
                record[key].setdefault(field, copy.deepcopy(default))
    return record  # type: ignore[return-value]


def with_cell(record: Record, part: CellPart) -> Record:
    """The record of a suite cell: the runner's part added to what was measured."""
    record.update(part)  # type: ignore[typeddict-item]
    return record


def verdict_of(record: Record) -> str | None:
    """The cell's timing verdict (its repeats' and its scenario's): `disturbed` if any timing
    is, `unknown` if any is, else `clean`; None when nothing was timed. `record` as
    `read_record` gives it."""
    said = [stats["verdict"] for key in LATENCY_KEYS if (stats := record[key]) is not None]
    if (scenario := record.get("scenario_run")) and "verdict" in scenario:
        said.append(scenario["verdict"])
    if not said:
        return None
    return next((v for v in ("disturbed", "unknown") if v in said), "clean")


def ceilings_of(record: Record) -> Ceilings | None:
    """The machine's ceilings a breakdown is read against; None where none were measured or
    measuring them failed (the failure's reason stays in `env.ceilings.error`)."""
    found = (record["env"] or {}).get("ceilings")
    return None if found is None or "error" in found else found  # type: ignore[return-value]


def breakdown_rows_of(breakdown: Breakdown, by: Literal["module", "op"]) -> list[dict[str, Any]]:
    """The stored rows of a breakdown by 'module' (`ModuleRow`s) or 'op' (`OpRow`s) as dicts
    under their column names; [] when the breakdown failed before counting."""
    columns, rows = (
        (breakdown.get("module_columns"), breakdown.get("modules"))
        if by == "module"
        else (breakdown.get("op_columns"), breakdown.get("ops"))
    )
    return [dict(zip(columns, values, strict=True)) for values in rows or []]


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
