"""The networks MTNets are compared with, registered into mtbench's one registry."""

from baselines import torchvision_video  # noqa: F401  (registers r3d-18, mc3-18, r2plus1d-18, s3d)
