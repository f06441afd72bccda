"""What a number was measured on: every result record carries this."""

from __future__ import annotations

import functools
import os
import platform
import subprocess
from pathlib import Path
from typing import Any

import torch
import torchvision

import mtbench
from mtbench.record import Env


@functools.cache
def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


@functools.cache
def git_commit() -> str | None:
    """The commit of the mtbench checkout, or None for an installed copy without git."""
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"],
            cwd=Path(mtbench.__file__).parent,
            capture_output=True,
            text=True,
            timeout=5,
            check=True,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None


def device_name(device: torch.device) -> str:
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    return cpu_model()


def cpu_isa() -> dict[str, str]:
    """The instruction sets the CPU kernels dispatch to: ATen's vectorised kernels
    (`ATEN_CPU_CAPABILITY` caps them) and oneDNN's convolutions, which use the best ISA the
    CPU has unless `ONEDNN_MAX_CPU_ISA` (or its old name `DNNL_MAX_CPU_ISA`) caps it. Two
    records with different values ran different kernels, so rounding differs."""
    onednn = os.environ.get("ONEDNN_MAX_CPU_ISA") or os.environ.get("DNNL_MAX_CPU_ISA")
    return {
        "cpu_capability": torch.backends.cpu.get_cpu_capability(),
        "onednn_max_cpu_isa": onednn.upper() if onednn else "default",
        "onednn": _onednn_version() if torch.backends.mkldnn.is_available() else "",
    }


@functools.cache
def _onednn_version() -> str:
    """'v3.12.0' from torch's build configuration, or '' where it is not named."""
    for line in torch.__config__.show().splitlines():
        if "MKL-DNN" in line or "oneDNN" in line:
            words = [w for w in line.split() if w.startswith("v") and w[1:2].isdigit()]
            if words:
                return words[0]
    return ""


def gpu(device: torch.device) -> dict[str, Any]:
    """GPU, CUDA and cuDNN versions for a CUDA record; None for each on CPU."""
    if device.type != "cuda":
        return {"gpu": None, "cuda": None, "cudnn": None}
    cudnn = torch.backends.cudnn.version() if torch.backends.cudnn.is_available() else None
    return {
        "gpu": torch.cuda.get_device_name(device),
        "cuda": torch.version.cuda,
        "cudnn": cudnn,
    }


def environment(device: torch.device) -> Env:
    """Everything that decides which kernels ran, and the software versions around them."""
    return {
        "torch": torch.__version__,
        "torchvision": torchvision.__version__,
        "mtbench": mtbench.__version__,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "device_name": device_name(device),
        "cpu": cpu_model(),
        "threads": torch.get_num_threads(),
        **cpu_isa(),
        **gpu(device),
        "git_commit": git_commit(),
    }
