"""A user's model as the plugin tests write it: a module file, a torch.hub folder and an
installed package with an entry point, and a suite that trains it (shared by the plugin,
launcher and transformers tests)."""

from pathlib import Path

MODEL_FILE = '''
"""A user's tiny 3D CNN, registered and also buildable by path."""
from torch import nn
from mtbench.registry import register_model

WIDTH = 4


class TinyVid(nn.Module):
    def __init__(self, num_classes, width):
        super().__init__()
        self.conv = nn.Conv3d(3, width, 3, padding=1)
        self.fc = nn.Linear(width, num_classes)

    def forward(self, x):
        return self.fc(self.conv(x).relu().mean((2, 3, 4)))


@register_model("{name}", family="tiny-user")
def tiny_vid(num_classes: int = 3, width: int = WIDTH) -> nn.Module:
    """A one-convolution video classifier."""
    return TinyVid(num_classes, width)


def build_tiny_vid(num_classes: int = 3, width: int = WIDTH) -> nn.Module:
    """The same network, named by path."""
    return TinyVid(num_classes, width)


def not_a_model(num_classes: int = 3):
    return "a string"
'''

HUBCONF = """
dependencies = ["torch"]
from tinyvid_hub import build_tiny_vid as tiny_vid
"""

SUITE = """
[suite]
name = "plug"
{imports}

[defaults]
device = "cpu"
measure = ["params", "flops"]
threads = 1

[data]
dataset = "synthetic"
num_classes = 3
videos_per_class = 4
test_videos_per_class = 2
source_frames = 8
source_size = [20, 20]
frames = 4
interval = 1
resize = [16, 18]
crop = 16
workers = 0

[train]
epochs = 1
batch_size = 4
lr = 0.05

[eval]
clips = 1
crops = 1
batch_size = 4

[[models]]
name = "{model}"
"""


def write_plugins(root: Path, name: str) -> None:
    """The model as a module file, a hub folder and an installed package with an entry point."""
    (root / "tinyvid.py").write_text(MODEL_FILE.replace("{name}", name))
    (root / "hubrepo").mkdir()
    (root / "hubrepo" / "tinyvid_hub.py").write_text(MODEL_FILE.replace("{name}", name + "-hub"))
    (root / "hubrepo" / "hubconf.py").write_text(HUBCONF)
    site = root / "site"
    (site / "tinyplug").mkdir(parents=True)
    (site / "tinyplug" / "__init__.py").write_text(MODEL_FILE.replace("{name}", "tiny-plug"))
    dist = site / "tinyplug-0.3.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: tinyplug\nVersion: 0.3\n")
    (dist / "entry_points.txt").write_text("[mtbench.models]\ntinyplug = tinyplug\n")
    (dist / "top_level.txt").write_text("tinyplug\n")
