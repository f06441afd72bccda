"""A count-only measurement computes on the model as the timed one does: params and GFLOPs of
one model per family are identical whether the cell also times it (the whole registry:
`python benchmarks/count_only.py`)."""

from __future__ import annotations

import functools

import pytest

from mtbench.measure.profile import ProfileOptions, profile
from mtbench.registry import check_input, list_models, model_entry, validate_model

SMALL_INPUTS = (
    [1, 3, 4, 32, 32],
    [1, 3, 8, 32, 32],
    [1, 3, 16, 64, 64],
    [1, 3, 16, 112, 112],
    [1, 3, 16, 224, 224],
)


# The transformers at a tiny width: the same code paths (attention, position tables) for little
# arithmetic. Keyword arguments a builder does not take are left out.
TINY = {
    "image_size": 32,
    "patch_size": 8,
    "num_frames": 4,
    "tubelet_size": 2,
    "hidden_size": 32,
    "num_hidden_layers": 1,
    "num_attention_heads": 2,
    "intermediate_size": 64,
}


def model_kwargs(name: str) -> dict:
    own = model_entry(name).kwargs
    return {"num_classes": 5, **{k: v for k, v in TINY.items() if k in own}}


def small_inputs(name: str) -> list[list[int]]:
    """The small clips the model's input check accepts, smallest first."""
    kwargs = model_kwargs(name)
    return [s for s in SMALL_INPUTS if check_input(name, kwargs, s) is None]


def families() -> list[str]:
    """The families of the built-in models (the registry's own entries: nothing is built, so
    collecting this file costs nothing; building every model took 7 s in each worker)."""
    return sorted({model_entry(n).family for n in list_models() if _built_in(n)})


def _built_in(name: str) -> bool:
    return model_entry(name).origin == "built-in"  # not the models other test files register


@functools.cache
def smallest_of(family: str) -> str:
    """The smallest built-in model of the family, by parameters (built on the meta device)."""
    names = [n for n in list_models() if _built_in(n) and model_entry(n).family == family]
    sizes = {
        n: sum(p.numel() for p in validate_model(n, **model_kwargs(n)).parameters()) for n in names
    }
    return min(names, key=lambda n: (sizes[n], n))


def counts(name: str, shape: list[int], measure: tuple[str, ...]) -> tuple:
    options = ProfileOptions(device="cpu", warmup=0, repeats=1, measure=measure, threads=1)
    record = profile(name, model_kwargs(name), shape, options)
    return (
        record["params_total"],
        record["params_trainable"],
        record["gflops"],
        record["gflops_ptflops"],
    )


@pytest.mark.slow
@pytest.mark.parametrize("family", families())
def test_counts_are_the_same_with_and_without_timing(family):
    name = smallest_of(family)
    # The smallest clip that runs: an input check can accept a clip a pooling layer refuses.
    for shape in small_inputs(name):
        try:
            alone = counts(name, shape, ("params", "flops"))
            break
        except RuntimeError:
            continue
    else:
        pytest.fail(f"{name}: none of {SMALL_INPUTS} runs")
    timed = counts(name, shape, ("params", "flops", "latency_fwd"))
    assert alone == timed
    assert alone[0] > 0 and alone[2] > 0


def test_swin3d_counts_without_timing():
    """Its relative_position_index is a buffer filled at build: on uninitialised memory the
    count crashed (or counted a computation it never does)."""
    options = ProfileOptions(device="cpu", measure=("params", "flops"))
    record = profile("swin3d-t", {}, [1, 3, 8, 64, 64], options)
    assert record["params_total"] == 28_158_070
    assert record["gflops"] > 0
