"""The one-cell training suite the resume, launcher, eval and mode tests train (test-tiny3d
on synthetic clips), and the entry point that runs mtbench with it registered in a subprocess."""

from pathlib import Path

ENTRY = str(Path(__file__).parent / "mtbench_tiny.py")
HOLD_AT = 2  # the epoch of 6 whose checkpoint a killed run leaves

SUITE = """
[suite]
name = "resume"

[defaults]
device = "cpu"
measure = ["params"]

[data]
dataset = "synthetic"
num_classes = 3
videos_per_class = 16
test_videos_per_class = 2
source_frames = 12
source_size = [24, 24]
frames = 4
interval = 2
resize = [18, 22]
crop = 16
workers = {workers}

[train]
epochs = 6
batch_size = 4
lr = 0.05
lr_steps = [4]
warmup_epochs = 1
seed = 3

[eval]
clips = 2
crops = 3
batch_size = 4

[[models]]
name = "test-tiny3d"
"""
