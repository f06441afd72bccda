"""What a number was measured on: every result record carries this."""

from __future__ import annotations

import functools
import platform
import subprocess
from pathlib import Path
from typing import Any

import torch
import torchvision

import mtbench


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


def environment(device: torch.device) -> dict[str, Any]:
    return {
        "torch": torch.__version__,
        "torchvision": torchvision.__version__,
        "mtbench": mtbench.__version__,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "device_name": device_name(device),
        "cpu": cpu_model(),
        "threads": torch.get_num_threads(),
        "cuda": torch.version.cuda if device.type == "cuda" else None,
        "git_commit": git_commit(),
    }
