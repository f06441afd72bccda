"""The networks MTNets are compared with, registered into mtbench's one registry.

Importing a module registers its models; `mtbench.registry` imports this package on first use.
"""

from baselines import csn, i3d, resnet3d, slowfast, srtg, torchvision_video, x3d  # noqa: F401  (registration)
