"""Which machine a record ran on, named from its `env`: the key that keeps latencies (and
training runs, whose rounding follows the kernels) of different machines apart."""

from __future__ import annotations

from typing import Any

# The env fields that decide which kernels computed a number: the processor and the ISA its
# kernels dispatch to, the GPU with its CUDA and cuDNN, and the torch build that holds the
# kernels. Latencies (and the rounding of a training run) are comparable only within one key.
# The thread count is a setting of each cell, matched as a condition of its own.
MACHINE_FIELDS = ("cpu", "cpu_capability", "onednn_max_cpu_isa", "gpu", "cuda", "cudnn", "torch")


UNRECORDED = "machine not recorded"  # a record without env: a cell that failed before measuring


def machine_key(env: Any) -> str:
    """A short readable name of the machine a record ran on, built from `MACHINE_FIELDS`;
    fields an old record lacks are left out, so its key is coarser, never invented."""
    if not isinstance(env, dict):
        return UNRECORDED
    parts = []
    for name in MACHINE_FIELDS:
        value = env.get(name)
        if value in (None, "", "default"):
            continue
        if name == "onednn_max_cpu_isa":
            value = f"oneDNN ≤ {value}"
        elif name in ("cuda", "cudnn", "torch"):
            value = f"{name} {value}"
        parts.append(str(value))
    return ", ".join(parts) or "machine not recorded"
