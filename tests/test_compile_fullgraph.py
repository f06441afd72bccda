"""Every registered model compiles whole: no graph break, no recompilation, eager's outputs.

Dynamo traces each model at a tiny clip with `fullgraph=True` (a graph break raises) and the
`eager` backend (tracing is what can break; code generation cannot add breaks), calls it
again on a new clip of the same shape with recompilation made an error, and compares the
outputs to eager ones (the recurrent cells run unrolled when compiled). Inductor, which
compiles C++ for minutes per model on two cores, runs on a representative subset.

CI runs the models whose code paths differ most (MTNet's GRU and SoftPool, SRTG's LSTM, a
plain 3D ResNet); MTBENCH_FULL_ZOO=1 runs every registered model and the inductor subset.
"""

from __future__ import annotations

import os

import pytest
import torch

from mtbench.registry import create_model, list_models

pytestmark = pytest.mark.usefixtures("one_thread")

FULL_ZOO = os.environ.get("MTBENCH_FULL_ZOO") == "1"
CI_SUBSET = {"mtnet-32", "srtg-r3d-34", "r3d-18"}
INDUCTOR_SUBSET = ("mtnet-32", "r3d-18", "srtg-r3d-34")


def tiny_clip(name: str, seed: int) -> torch.Tensor:
    # SlowFast's alpha must divide T; S3D's last pooling needs 8 frames.
    frames = 8 if name.startswith(("slowfast", "s3d")) else 4
    return torch.randn(1, 3, frames, 32, 32, generator=torch.Generator().manual_seed(seed))


def eager_and_compiled(name: str, backend: str) -> tuple[torch.nn.Module, torch.nn.Module]:
    torch.manual_seed(0)
    model = create_model(name, num_classes=3).eval()
    return model, torch.compile(model, fullgraph=True, backend=backend)


def zoo_param(name: str):
    marks = [] if FULL_ZOO or name in CI_SUBSET else [pytest.mark.skip("MTBENCH_FULL_ZOO=1")]
    return pytest.param(name, marks=marks)


@pytest.mark.slow
@pytest.mark.parametrize("name", [zoo_param(n) for n in list_models()])
def test_traces_whole_without_recompiling_and_matches_eager(name):
    torch._dynamo.reset()
    model, compiled = eager_and_compiled(name, "eager")
    with torch.no_grad():
        compiled(tiny_clip(name, 0))  # fullgraph: any graph break raises here
        clip = tiny_clip(name, 1)
        with torch._dynamo.config.patch(error_on_recompile=True):
            got = compiled(clip)
        torch.testing.assert_close(got, model(clip), rtol=1e-4, atol=1e-5)


@pytest.mark.skipif(not FULL_ZOO, reason="inductor compiles for minutes: MTBENCH_FULL_ZOO=1")
@pytest.mark.parametrize("name", INDUCTOR_SUBSET)
def test_inductor_outputs_match_eager(name):
    torch._dynamo.reset()
    model, compiled = eager_and_compiled(name, "inductor")
    clip = tiny_clip(name, 0)
    with torch.no_grad():
        torch.testing.assert_close(compiled(clip), model(clip), rtol=1e-3, atol=1e-4)
