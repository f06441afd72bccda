"""The run options: each declared once, with its type, default, allowed values, help text and
whether it enters a cell's key.

The suite's `[defaults]` (and per-model overrides), the `mtbench profile` flags, the grid's
copy into a cell and the validation are all derived from the fields of `ProfileOptions`, so a
new option is one field here plus its use. The clip shape is declared beside them (`INPUT`,
`BATCH_SIZE`) and parsed by one function, `parse_input_shape`, for the CLI's `1x3x16x112x112`
and a suite's `[1, 3, 16, 112, 112]` alike.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, Literal

from mtbench.checks import (
    Field,
    boolean,
    choice,
    is_int,
    non_negative_int,
    positive_int,
    positive_number,
    string,
)
from mtbench.errors import did_you_mean
from mtbench.runtimes import (
    EXPORTERS,
    QUANTIZERS,
    check_runtime,
    default_measures,
    precision_problems,
    runtime_problems,
)

MEASURES = ("params", "flops", "latency_fwd", "latency_fwdbwd", "memory")
# Measures a user may ask for; the default (MEASURES) leaves out the breakdown, so that the
# keys of suites that name no `measure` stay what they were.
MEASURE_CHOICES = (*MEASURES, "breakdown")
# Measures that run the model on a clip (the others count it): not "timed", since memory is
# measured in a pass of its own, and not "runtime", the word for what runs it (RUNTIMES).
RUNNING_MEASURES = ("latency_fwd", "latency_fwdbwd", "memory")
DTYPE_NAMES = ("float32", "bfloat16", "float16", "int8")
DEVICES = ("auto", "cpu", "cuda")
CALIBRATION_CLIPS = 300  # NNCF's default subset size
COMPILE_MODES = ("default", "reduce-overhead", "max-autotune")
# How a measure-only cell's forward is driven (mtbench.measure.scenarios, docs/deploy.md):
# `repeat` times it back to back (the latency keys); MLPerf's four scenarios run it under
# MLPerf's own LoadGen; `stream` feeds it a live video's sliding windows on the clock.
LOADGEN_SCENARIOS = ("single-stream", "multi-stream", "server", "offline")
SCENARIOS = ("repeat", *LOADGEN_SCENARIOS, "stream")
STREAM_SOURCES = ("frames", "video")
LOADGEN_INSTALL = "pip install 'mtbench[loadgen]'  (mlcommons-loadgen)"

# How an option enters a cell's key: `always`, `when_set` for options added after suites
# had stores (left out while they hold their default, so that those stores still resume), or
# `never` for how to time rather than what is timed (the same cell, the same key).
KeyPolicy = Literal["always", "when_set", "never"]


def measures(v: Any) -> str | None:
    """A non-empty list (or tuple) of measurement names."""
    names = ", ".join(MEASURE_CHOICES)
    if not isinstance(v, list | tuple) or not v or not all(isinstance(m, str) for m in v):
        return f"expected a non-empty list of names from {names}, got {v!r}"
    unknown = [m for m in v if m not in MEASURE_CHOICES]
    return f"unknown {unknown}; choose any of {names}" if unknown else None


def scenario_name(v: Any) -> str | None:
    """A known scenario, else the choices with the closest one."""
    if v in SCENARIOS:
        return None
    hint = did_you_mean(v, list(SCENARIOS)) if isinstance(v, str) else ""
    return f"{v!r} is not one of {', '.join(SCENARIOS)}{hint}"


def loadgen_missing() -> bool:
    """True when MLPerf's LoadGen (`mlperf_loadgen`) cannot be imported."""
    try:
        import mlperf_loadgen  # noqa: F401
    except ImportError:
        return True
    return False


def fraction(v: Any) -> str | None:
    """A number in (0, 1]."""
    ok = isinstance(v, int | float) and not isinstance(v, bool) and 0 < v <= 1
    return None if ok else f"expected a number in (0, 1], e.g. 0.99, got {v!r}"


def optional(check: Callable[[Any], str | None]) -> Callable[[Any], str | None]:
    """`check`, with None (the option's "not set") also fine."""

    def checked(v: Any) -> str | None:
        return None if v is None else check(v)

    return checked


def option(
    default: Any,
    check: Callable[[Any], str | None],
    help: str,
    key: KeyPolicy = "always",
    flag: str | None = None,
) -> Any:
    """A declared option: a dataclass field whose metadata the schema, CLI and grid read.
    `flag` names its command-line flag where that is not the option's own name."""
    metadata = {"check": check, "help": help, "key": key, "flag": flag}
    return field(default=default, metadata=metadata)


@dataclass(frozen=True)
class ProfileOptions:
    """How to measure; the defaults are `mtbench profile`'s and a suite's `[defaults]`."""

    device: str = option("auto", choice(DEVICES), "auto | cpu | cuda: auto picks cuda if present")
    dtype: str = option(
        "float32", choice(DTYPE_NAMES), "float32 | bfloat16 | float16 (CUDA) | int8 (quantized)"
    )
    warmup: int = option(3, non_negative_int, "untimed runs before timing")
    repeats: int = option(10, positive_int, "timed runs")
    # None: every measure, forward only on a runtime other than PyTorch (resolved at creation).
    measure: tuple[str, ...] | None = option(
        None,
        optional(measures),
        "what to measure: " + ",".join(MEASURE_CHOICES) + " [default:"
        " params..memory; forward only with a runtime]",
    )
    threads: int | None = option(None, optional(positive_int), "CPU threads (torch)")
    channels_last: bool = option(False, boolean, "channels_last_3d memory format")
    compile: bool = option(False, boolean, "torch.compile the model before timing")
    count_norm: bool = option(True, boolean, "count normalisation layers in GFLOPs (fvcore's)")
    cudnn_benchmark: bool | None = option(
        None, optional(boolean), "cuDNN autotuning [default: on for CUDA]", "when_set"
    )
    compile_mode: str = option(
        "default", choice(COMPILE_MODES), "with compile: " + " | ".join(COMPILE_MODES), "when_set"
    )
    cuda_graphs: bool = option(
        False, boolean, "CUDA only: capture each step once, time its graph replays", "when_set"
    )
    amp: bool = option(
        False, boolean, "autocast to dtype (bfloat16 | float16), weights in float32", "when_set"
    )
    # A measurement's option, not a condition: out of the key unless set.
    breakdown_depth: int | None = option(
        None,
        optional(non_negative_int),
        "module depth of the breakdown [default: stages or blocks; 0: whole model]",
        "when_set",
        flag="depth",
    )
    # Conditions of a runtime cell (mtbench.deploy), out of the key while PyTorch runs it.
    runtime: str = option(
        "pytorch",
        check_runtime,
        "pytorch | onnxruntime | openvino | tensorrt (docs/deploy.md)",
        "when_set",
    )
    exporter: str = option(
        "auto",
        choice(EXPORTERS),
        "auto | dynamo | torchscript | openvino (with a runtime)",
        "when_set",
    )

    # How the forward is driven (docs/deploy.md "Scenarios and streams"): out of the key at
    # their defaults, so suites that name no scenario keep their keys. The defaults are short
    # runs that fit a CI job; MLPerf's own values are in mtbench.measure.scenarios.MLPERF.
    scenario: str = option(
        "repeat", scenario_name, "repeat | " + " | ".join(SCENARIOS[1:]), "when_set"
    )
    min_duration_s: float = option(
        1.0, positive_number, "a scenario's shortest run, s (MLPerf: 600)", "when_set"
    )
    min_query_count: int = option(
        16, positive_int, "a LoadGen run's fewest queries (MLPerf: from its confidence)", "when_set"
    )
    target_qps: float | None = option(
        None,
        optional(positive_number),
        "server: the Poisson arrival rate, queries/s [default: searched]",
        "when_set",
    )
    target_latency_ms: float = option(
        100.0, positive_number, "server: the bound on p99 latency, ms", "when_set"
    )
    samples_per_query: int = option(
        8, positive_int, "multi-stream: clips per query (MLPerf: 8)", "when_set"
    )
    scenario_seed: int = option(
        0, non_negative_int, "LoadGen's sample and schedule seeds", "when_set"
    )
    max_batch: int = option(64, positive_int, "offline: the largest batch searched", "when_set")
    memory_budget_mb: float | None = option(
        None, optional(positive_number), "offline: a batch's peak memory cap, MiB", "when_set"
    )
    fps: float = option(25.0, positive_number, "stream: frames per second", "when_set")
    stride: int | None = option(
        None, optional(positive_int), "stream: frames between windows [default: T/2]", "when_set"
    )
    stream_source: str = option(
        "frames",
        choice(STREAM_SOURCES),
        "stream: frames (pre-decoded) | video (decoded as they arrive)",
        "when_set",
    )
    stream_video: str | None = option(
        None,
        optional(string),
        "stream, source video: a video file to decode, resized and centre-cropped to the clip "
        "[default: random frames written at the clip's size]",
        "when_set",
    )
    search: bool = option(
        False,
        boolean,
        "server: the highest valid QPS; stream: the highest fps with <= 1% misses",
        "when_set",
    )
    # A quantized network's conditions (mtbench.deploy.quantize), out of the key while unset.
    quantizer: str = option(
        QUANTIZERS[0],
        choice(QUANTIZERS),
        "with dtype int8 on pytorch: pt2e (torchao, compiled) | fx (graph mode, x86 engine)",
        "when_set",
    )
    calibration_clips: int = option(
        CALIBRATION_CLIPS,
        positive_int,
        "with dtype int8: clips the quantizer calibrates on (from [data]'s training split)",
        "when_set",
    )
    require_accuracy: float | None = option(
        None,
        optional(fraction),
        "with dtype int8 or bfloat16 and [data]: the gate, its top-1 / float32's at least this",
        "when_set",
    )

    def __post_init__(self) -> None:
        if self.measure is None and check_runtime(self.runtime) is None:
            measure = default_measures(self.runtime, MEASURES, self.dtype)
            object.__setattr__(self, "measure", measure)
        # The quantizer's keys act on an INT8 cell only (`quantizer` on PyTorch's), the gate's
        # on any reduced precision: elsewhere they are their defaults, so a suite may set them
        # in [defaults] beside float32 cells, whose keys stay what they were.
        applies = {
            "quantizer": self.dtype == "int8" and self.runtime == "pytorch",
            "calibration_clips": self.dtype == "int8",
            "require_accuracy": self.dtype != "float32",
        }
        for name, used in applies.items():
            if not used:
                object.__setattr__(self, name, getattr(ProfileOptions, name))

    # How to time, not what: interleaved cells keep their keys (the record says `interleaved`).
    interleave: bool = option(
        False,
        boolean,
        "time the suite's measure cells in rounds, repeat k of every cell in round k",
        "never",
    )

    def problems(self) -> list[tuple[str, str]]:
        """(key, message) for every invalid option; empty when all are valid."""
        out = [
            (f.name, why)
            for f in fields(self)
            if (why := f.metadata["check"](getattr(self, f.name))) is not None
        ]
        named_mode = self.compile_mode in COMPILE_MODES and self.compile_mode != "default"
        if named_mode and not self.compile:
            out.append(("compile_mode", f"{self.compile_mode!r} needs compile = true"))
        if self.amp and self.dtype not in ("bfloat16", "float16"):
            out.append(("amp", "needs dtype bfloat16 or float16 (autocast's low precision)"))
        if self.cuda_graphs and self.device == "cpu":
            out.append(("cuda_graphs", "needs device cuda: CUDA graphs replay GPU kernels"))
        if self.cuda_graphs and self.compile and self.compile_mode == "reduce-overhead":
            out.append(("cuda_graphs", "compile_mode 'reduce-overhead' already replays graphs"))
        out += self.stream_video_problems()
        out += [p for p in self.scenario_problems() if p not in out]
        out += self.quantization_problems()
        return out + [p for p in self.runtime_problems() if p not in out]

    def stream_video_problems(self) -> list[tuple[str, str]]:
        """A user's video is decoded by a stream that decodes (source video), and must exist."""
        if self.stream_video is None or string(self.stream_video) is not None:
            return []
        if self.scenario != "stream" or self.stream_source != "video":
            return [("stream_video", 'needs scenario = "stream" and stream_source = "video"')]
        if not Path(self.stream_video).is_file():
            return [("stream_video", f"no such file: {self.stream_video}")]
        return []

    def scenario_problems(
        self, window: int | None = None, training: bool = False
    ) -> list[tuple[str, str]]:
        """What a scenario cannot run with: a training cell, a timed training step, a stride
        beyond the clip's `window` frames, a server with neither a rate nor a search, or no
        LoadGen installed."""
        if self.scenario == "repeat" or scenario_name(self.scenario) is not None:
            return []
        out = []
        if training:
            out.append(("scenario", "measure-only cells only: a training cell trains"))
        if "latency_fwdbwd" in (self.measure or ()):
            out.append(("scenario", "drives the forward: leave latency_fwdbwd out of measure"))
        if self.scenario == "stream" and self.stride is not None and window is not None:
            if self.stride > window:
                out.append(("stride", f"{self.stride} is larger than the window, {window} frames"))
        if self.scenario == "server" and self.target_qps is None and not self.search:
            out.append(("target_qps", "server needs target_qps or search = true"))
        if self.scenario in LOADGEN_SCENARIOS and loadgen_missing():
            out.append(("scenario", f"needs MLPerf's LoadGen: {LOADGEN_INSTALL}"))
        return out

    def quantization_problems(self) -> list[tuple[str, str]]:
        """PyTorch options that an INT8 network's quantizer decides."""
        out = []
        if self.dtype == "int8" and self.runtime == "pytorch":
            for name in ("compile", "cuda_graphs", "channels_last"):
                if getattr(self, name):
                    why = "PyTorch's INT8 network is prepared by its quantizer (PT2E compiles it)"
                    out.append((name, f"{why}: leave {name} unset"))
        return out

    def runtime_problems(self, cuda_available: bool | None = None) -> list[tuple[str, str]]:
        """The options the runtime cannot run with: a suite refuses these before any cell."""
        if cuda_available is None:
            import torch

            cuda_available = torch.cuda.is_available()
        pytorch_only = {
            "compile": self.compile,
            "cuda_graphs": self.cuda_graphs,
            "amp": self.amp,
            "channels_last": self.channels_last,
        }
        measure = self.measure or ()
        found = runtime_problems(
            self.runtime,
            self.exporter,
            self.dtype,
            self.device,
            measure,
            pytorch_only,
            cuda_available,
        )
        more = precision_problems(
            self.runtime, self.dtype, self.device, self.quantizer, measure, cuda_available
        )
        return found + [p for p in more if p not in found]

    def key_options(self) -> dict[str, Any]:
        """The options as a cell key hashes them: a `when_set` option only when it is set, a
        `never` option never."""
        return {
            f.name: getattr(self, f.name)
            for f in fields(self)
            if f.metadata["key"] == "always"
            or (f.metadata["key"] == "when_set" and getattr(self, f.name) != f.default)
        }

    def precision(self) -> str:
        """What ran in low precision: `autocast` (float32 weights), `cast` (the whole model
        in `dtype`) or `float32`."""
        return "autocast" if self.amp else ("cast" if self.dtype != "float32" else "float32")

    def conditions(self) -> dict[str, Any]:
        """The options as a record states them (mtbench.record.Measurement's conditions)."""
        keep = ("dtype", "device", "channels_last", "compile", "compile_mode", "cuda_graphs")
        return {
            **{name: getattr(self, name) for name in keep},
            "amp": self.amp,
            "precision": self.precision(),
            "cudnn_benchmark": self.cudnn_benchmark,
            "count_norm": self.count_norm,
            "threads": self.threads,
            "warmup": self.warmup,
            "breakdown_depth": self.breakdown_depth,
            "runtime": self.runtime,
            "scenario": self.scenario,
            # True only where mtbench.suite.interleave timed the cell in rounds.
            "interleaved": False,
        }


@dataclass(frozen=True)
class Declared:
    """One option as the suite schema and the CLI see it."""

    name: str
    type: str  # the field's annotation, e.g. "int | None"
    default: Any
    check: Callable[[Any], str | None]
    help: str
    flag: str  # its command-line flag, e.g. "--depth"


def declared_options() -> list[Declared]:
    return [
        Declared(
            f.name,
            str(f.type),
            f.default,
            f.metadata["check"],
            f.metadata["help"],
            "--" + (f.metadata["flag"] or f.name).replace("_", "-"),
        )
        for f in fields(ProfileOptions)
    ]


def flag_of(name: str) -> str:
    """The command-line flag of option `name`."""
    return next(d.flag for d in declared_options() if d.name == name)


def options_from(settings: dict[str, Any]) -> ProfileOptions:
    """A cell's options from its resolved settings (a suite's defaults and overrides)."""
    values = {f.name: settings[f.name] for f in fields(ProfileOptions) if f.name in settings}
    if isinstance(values.get("measure"), str):  # the command line's comma-separated list
        values["measure"] = [m.strip() for m in values["measure"].split(",") if m.strip()]
    if values.get("measure") is not None:
        values["measure"] = tuple(values["measure"])
    return ProfileOptions(**values)


INPUT_HELP = "clip shape B,3,T,H,W: BxCxTxHxW on the command line, [B, 3, T, H, W] in a suite"


def input_shape_problem(value: Any) -> str | None:
    """Why `value` is not a clip shape (`1x3x16x112x112` or `[1, 3, 16, 112, 112]`)."""
    try:
        parse_input_shape(value)
    except ValueError as exc:
        return str(exc)
    return None


def parse_input_shape(value: Any) -> list[int]:
    """A (B, 3, T, H, W) clip shape with positive sizes from `1x3x16x112x112` or a list of five
    integers; ValueError saying what is wrong."""
    shape: Any = value
    if isinstance(value, str):
        try:
            shape = [int(p) for p in value.lower().replace(",", "x").split("x")]
        except ValueError:
            shape = None
    ok = isinstance(shape, list | tuple) and len(shape) == 5 and all(is_int(s) for s in shape)
    if not ok or any(s < 1 for s in shape) or shape[1] != 3:
        raise ValueError(
            f"expected BxCxTxHxW with 3 channels and positive sizes, e.g. 1x3x16x112x112"
            f" ([B, 3, T, H, W] in a suite), got {value!r}"
        )
    return list(shape)


def suite_fields() -> dict[str, Field]:
    """A suite's `[defaults]` keys (each also a per-model override): the run options, the
    clip shape and the batch size that replaces its B."""
    options = {d.name: Field(d.check, d.help, _suite_default(d)) for d in declared_options()}
    return {
        "device": options.pop("device"),
        "input": Field(input_shape_problem, INPUT_HELP, [1, 3, 16, 112, 112]),
        "batch_size": Field(positive_int, "replaces B of `input` when given"),
        **options,
    }


def _suite_default(declared: Declared) -> Any:
    """TOML has lists, not tuples: a tuple default reads back as the list a user writes."""
    return list(declared.default) if isinstance(declared.default, tuple) else declared.default
