"""TSN-R18: torchvision's ResNet-18 on every frame, features averaged: blind to frame order."""

import torch
from torchvision.models import resnet18

from mtbench.registry import create_model


def test_frame_order_does_not_matter_and_equals_resnet18_per_frame(tmp_path, one_thread):
    torch.manual_seed(0)
    reference = resnet18(num_classes=5).eval()
    path = tmp_path / "resnet18.pth"
    torch.save(reference.state_dict(), path)  # torchvision's key layout
    model = create_model("tsn-r18", num_classes=5, weights=str(path)).eval()
    clip = torch.randn(2, 3, 4, 32, 32)
    with torch.no_grad():
        ours = model(clip)
        shuffled = model(clip[:, :, torch.tensor([2, 0, 3, 1])])
        per_frame = torch.stack([reference(clip[:, :, t]) for t in range(4)]).mean(dim=0)
    torch.testing.assert_close(ours, shuffled)
    torch.testing.assert_close(ours, per_frame)  # linear classifier: mean of features = of scores
