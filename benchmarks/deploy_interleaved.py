"""A model under PyTorch eager, ONNX Runtime and OpenVINO timed in turn inside each repeat.

A suite times its cells one after another; on a shared machine the load can change between
them, and a wall-clock ratio of two cells then measures the load too. Here the three run in
turn inside each repeat, on the files a `suites/deploy.toml` store already exported (nothing
is exported again), with the store's threads; each call's wall time and the process's CPU time
(`time.process_time`, all threads) are read, so that a machine whose cores are taken by others
still gives the work each runtime does.

Run: python benchmarks/deploy_interleaved.py reports/deploy x3d-xs [--repeats 7]
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from pathlib import Path

import torch

from mtbench.deploy.equality import fixed_clip
from mtbench.deploy.sessions import onnxruntime_session, openvino_session
from mtbench.measure.profile import SEED
from mtbench.registry import create_model
from mtbench.suite.store import read_records


def runners(store: Path, model: str) -> tuple[dict, list[int], int]:
    """The model's three forwards (PyTorch eager, each runtime's cached file), its clip shape
    and the threads its cells ran with."""
    cells = {r["runtime"]: r for r in read_records(store) if r["model"] == model}
    if set(cells) < {"pytorch", "onnxruntime", "openvino"} or any(
        r["status"] != "ok" for r in cells.values()
    ):
        raise SystemExit(
            f"error: {store} has no ok pytorch, onnxruntime and openvino cells of {model}"
        )
    shape, threads = cells["pytorch"]["input_shape"], cells["pytorch"]["threads"]
    torch.set_num_threads(threads)
    torch.manual_seed(SEED)
    net = create_model(model, **cells["pytorch"]["model_kwargs"]).eval()
    folder = store / "cells"
    ort = onnxruntime_session(
        str(folder / cells["onnxruntime"]["cell_key"] / "model.onnx"), threads
    )
    ov = openvino_session(
        str(folder / cells["openvino"]["cell_key"] / "model.xml"), threads, "float32"
    )
    clip = fixed_clip(shape)
    array = clip.numpy()
    return (
        {"pytorch": lambda: net(clip), "onnxruntime": lambda: ort.run(array),
         "openvino": lambda: ov.run(array)},
        shape,
        threads,
    )  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("store", type=Path)
    parser.add_argument("model")
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args()
    runs, shape, threads = runners(args.store, args.model)
    times: dict[str, tuple[list[float], list[float]]] = {k: ([], []) for k in runs}
    with torch.inference_mode():
        for run in runs.values():  # warm-up
            run()
        for _ in range(args.repeats):
            for name, run in runs.items():
                wall, cpu = time.perf_counter(), time.process_time()
                run()
                times[name][0].append((time.perf_counter() - wall) * 1e3)
                times[name][1].append((time.process_time() - cpu) * 1e3)
    load = os.getloadavg()[0]
    print(f"{args.model} {'x'.join(map(str, shape))}, {threads} threads, {args.repeats} repeats,"
          f" load average {load:.1f}")  # fmt: skip
    eager_cpu = statistics.median(times["pytorch"][1])
    for name, (wall, cpu) in times.items():
        wall_ms, cpu_ms = statistics.median(wall), statistics.median(cpu)
        print(f"  {name:12s} wall {wall_ms:8.1f} ms   CPU {cpu_ms:8.1f} ms"
              f"   CPU / eager {cpu_ms / eager_cpu:.2f}")  # fmt: skip


if __name__ == "__main__":
    main()
