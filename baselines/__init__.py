"""The networks MTNets are compared with, registered into mtbench's one registry.

Importing a module registers its models; `mtbench.registry` imports this package on first use.
"""

from baselines import (  # noqa: F401  (registration)
    csn,
    hf_video,
    i3d,
    mfnet,
    resnet3d,
    slowfast,
    srtg,
    torchvision_video,
    tsm,
    tsn,
    x3d,
)
