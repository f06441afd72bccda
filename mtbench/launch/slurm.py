"""The SLURM launcher: the cells still to do as submitit job arrays, one task per cell (or a
few measure-only cells in turn), each task calling the runner's one-cell function.

A task is `submitit.helpers.Checkpointable`: when SLURM signals it before its time limit or
to preempt it, submitit pickles the task (with the cells it has finished) and requeues it;
the requeued task skips those cells and a training cell resumes from its `last.pt`. A cell
with `nproc_per_node` x `nodes` > 1 ranks is one task of that many SLURM processes: each
maps SLURM's variables to torchrun's (RANK, WORLD_SIZE, LOCAL_RANK, MASTER_ADDR/PORT) and
joins the process group through the same `init_from_env` as a torchrun run.
"""

from __future__ import annotations

import contextlib
import io
import shutil
import sys
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import submitit
from rich.console import Console
from rich.table import Table

from mtbench.errors import UsageError
from mtbench.launch.jobs import is_active, journal, queued_states, submissions
from mtbench.launch.settings import LauncherSettings
from mtbench.measure.memory import frozen_heap
from mtbench.measure.profile import now_iso
from mtbench.model_sources import import_models, resolving_from
from mtbench.preemption import mark_requeuing
from mtbench.registry import model_entry
from mtbench.suite.grid import Cell
from mtbench.suite.runner import copy_suite, current_ok_keys, run_cell
from mtbench.suite.schema import SuiteSpec
from mtbench.train.distributed import init_from_env, shutdown


class CellTask(submitit.helpers.Checkpointable):
    """One array task: its cells, run in turn with the runner's one-cell function."""

    def __init__(
        self, spec: SuiteSpec, cells: list[Cell], modules: list[str], sys_path: list[str]
    ) -> None:
        self.spec = spec
        self.cells = cells
        self.modules = modules  # where the cells' models are registered
        self.sys_path = sys_path
        self.finished: list[str] = []  # pickled with the task when it is requeued

    def __call__(self) -> list[str]:
        sys.path[:0] = [p for p in self.sys_path if p not in sys.path]
        with resolving_from(self.spec.path.parent):
            import_models(self.modules, "SLURM task")
            for cell in self.cells:  # module:callable and hub: names resolve again
                model_entry(cell.model)
        if submitit.JobEnvironment().num_tasks > 1:
            export_torch_env()
        timeout = max((c.workload.train["timeout"] for c in self.cells if c.workload), default=600)
        init_from_env(timeout)
        try:
            with frozen_heap():
                for cell in self.cells:
                    if cell.key not in self.finished:
                        run_cell(self.spec, cell)
                        self.finished.append(cell.key)
        finally:
            shutdown()
        return self.finished

    def checkpoint(self, *args: Any, **kwargs: Any) -> submitit.helpers.DelayedSubmission:
        """The task as it stands (its finished cells), requeued by submitit; from now on an
        error in the running cell is the requeue's (mtbench.preemption)."""
        mark_requeuing()
        return super().checkpoint(*args, **kwargs)


def export_torch_env() -> None:
    """torchrun's variables (RANK, WORLD_SIZE, LOCAL_RANK, MASTER_ADDR, MASTER_PORT) from
    SLURM's, for `init_from_env`; each rank picks its GPU by LOCAL_RANK as under torchrun
    (SLURM already limits the visible GPUs to the job's)."""
    submitit.helpers.TorchDistributedEnvironment().export(
        set_cuda_visible_devices=False, overwrite=True
    )


@dataclass
class TaskGroup:
    """Tasks that share their resources: one job array."""

    kind: str  # "measure" or "train"
    tasks: list[CellTask]
    parameters: dict[str, Any]


def check_slurm(spec: SuiteSpec, cells: list[Cell], settings: LauncherSettings) -> None:
    """Refuse, before anything is submitted, what SLURM could not run as asked."""
    if shutil.which("sbatch") is None or shutil.which("srun") is None:
        raise UsageError(
            "--launcher slurm: no sbatch/srun on PATH; run from a SLURM login node"
            " (without SLURM: --shard I/N, docs/cluster.md)"
        )
    if settings.gpus:
        for cell in cells:
            if cell.options.device == "cpu":
                raise UsageError(
                    f"{spec.path}: launcher.gpus = {settings.gpus}, but cell {cell.index}"
                    f" ({cell.label}) runs on device cpu: set gpus = 0 or device = 'cuda'"
                )


def _modules(cells: list[Cell]) -> list[str]:
    """What a task imports before it builds: each model's module, or the .py file a suite's
    `imports` or `--import` read it from (callable and hub names are resolved by name)."""
    modules = []
    for cell in cells:
        entry = model_entry(cell.model)
        if entry.origin in ("callable", "hub"):
            continue
        module = entry.builder.__module__
        if entry.origin == "import" and entry.source.endswith(".py"):
            module = str(Path(entry.source).resolve())
        if module == "__main__":
            raise UsageError(
                f"model {cell.model!r} is registered by the script that runs mtbench; a SLURM"
                " task cannot import it: register it in an importable module"
            )
        if module not in modules:
            modules.append(module)
    return modules


def plan(spec: SuiteSpec, cells: list[Cell], settings: LauncherSettings) -> list[TaskGroup]:
    """Measure-only cells packed `cells_per_task` to a task; each training cell a task of
    `nodes` x `nproc_per_node` ranks. Every resource is per cell process."""
    light = replace(spec, output=spec.output.resolve(), annotations={}, problems=[])
    modules = _modules(cells)
    paths = [p for p in sys.path if p]

    def task(chunk: list[Cell]) -> CellTask:
        return CellTask(light, chunk, modules, paths)

    common: dict[str, Any] = {
        "job_name": f"mtbench-{spec.name}",
        "time": settings.minutes,
        "cpus_per_task": settings.cpus,
        "array_parallelism": settings.array_parallelism,
        **{k: v for k in ("partition", "account", "qos") if (v := getattr(settings, k))},
    }
    extra = dict(_flag(f) for f in settings.sbatch_args)
    measure = [c for c in cells if c.workload is None]
    train = [c for c in cells if c.workload is not None]
    groups = []
    if measure:
        n = settings.cells_per_task
        tasks = [task(measure[i : i + n]) for i in range(0, len(measure), n)]
        groups.append(TaskGroup("measure", tasks, _resources(common, settings, 1, 1, extra)))
    if train:
        ranks = settings.nproc_per_node
        params = _resources(common, settings, settings.nodes, ranks, extra)
        groups.append(TaskGroup("train", [task([c]) for c in train], params))
    return groups


def _resources(
    common: dict[str, Any], settings: LauncherSettings, nodes: int, ranks: int, extra: dict
) -> dict[str, Any]:
    params = {**common, "nodes": nodes, "ntasks_per_node": ranks}
    if settings.gpus:
        params["gpus_per_node"] = settings.gpus * ranks
    if settings.mem_gb:
        params["mem"] = f"{round(settings.mem_gb * ranks * 1024)}M"
    if extra:
        params["additional_parameters"] = extra
    return params


def _flag(text: str) -> tuple[str, Any]:
    """'--constraint=a100' -> ('constraint', 'a100'); '--exclusive' -> ('exclusive', True)."""
    key, sep, value = text[2:].partition("=")
    return key, value if sep else True


def submit(
    spec: SuiteSpec, cells: list[Cell], settings: LauncherSettings, *, force: bool, console: Console
) -> None:
    """Submit the cells not measured yet and not already pending or running."""
    check_slurm(spec, cells, settings)
    copy_suite(spec)
    done = set() if force else current_ok_keys(spec, cells, console)[0]
    submitted = submissions(spec.output)
    states = queued_states({s["job_id"] for s in submitted.values()})
    if states is None and submitted:
        raise UsageError(
            "squeue did not answer, so which submitted cells are still queued is unknown;"
            " nothing submitted (run the command again when SLURM answers)"
        )
    states = states or {}
    active = {k for k, s in submitted.items() if is_active(states.get(s["job_id"]))}
    todo = [c for c in cells if c.key not in done and c.key not in active]
    skipped = len(cells) - len(todo)
    if not todo:
        console.print(
            f"nothing to submit: {skipped} of {len(cells)} cells are measured or queued;"
            f" mtbench status {spec.output}"
        )
        return
    folder = Path(settings.folder) if settings.folder else spec.output / "slurm"
    groups = plan(spec, todo, settings)
    jobs = _submit_groups(groups, folder, settings)
    stamp = now_iso()
    entries = []
    table = Table(title=f"{spec.name}: submitted {len(todo)} cells to SLURM")
    for col in ("cell", "label", "job"):
        table.add_column(col)
    for group, group_jobs in zip(groups, jobs, strict=True):
        for task, job in zip(group.tasks, group_jobs, strict=True):
            for cell in task.cells:
                entries.append(
                    {
                        "cell_key": cell.key,
                        "label": cell.label,
                        "job_id": job.job_id,
                        "submitted_at": stamp,
                        "log": str(job.paths.stderr),
                    }
                )
                table.add_row(str(cell.index), cell.label, job.job_id)
    journal(spec.output, entries)
    console.print(table)
    console.print(
        f"submitted {len(todo)} cells in {sum(len(g.tasks) for g in groups)} tasks,"
        f" skipped {skipped} measured or queued; follow them with: mtbench status {spec.output}"
    )


def _submit_groups(
    groups: list[TaskGroup], folder: Path, settings: LauncherSettings
) -> list[list[submitit.Job]]:
    """One array per group; if SLURM rejects one, those already submitted are cancelled, so
    a rejected submission leaves nothing queued."""
    submitted: list[list[submitit.Job]] = []
    try:
        for group in groups:
            executor = submitit.SlurmExecutor(folder, max_num_timeout=settings.timeout_requeues)
            executor.update_parameters(**group.parameters)
            # submitit prints sbatch's stderr before raising it: one line is ours to print
            with contextlib.redirect_stderr(io.StringIO()), executor.batch():
                jobs = [executor.submit(task) for task in group.tasks]
            submitted.append(jobs)
    except (submitit.core.utils.FailedJobError, ValueError) as exc:
        for job in (j for jobs in submitted for j in jobs):
            job.cancel(check=False)
        message = " ".join(str(exc).split()) or type(exc).__name__
        raise UsageError(f"SLURM rejected the {group.kind} cells' job array: {message}") from exc
    return submitted
