"""Frames (T, H, W, 3) uint8 -> a normalised (3, T, crop, crop) float tensor.

Training: short-side resize to a random size in the range (PySlowFast's scale jitter),
random crop, random horizontal flip. Evaluation: short-side resize to the range's lower
end, then one centre crop or three crops (both ends and the centre of the long side).
Randomness comes only from the generator passed in, never from a global RNG.
"""

from __future__ import annotations

import numpy as np
import torch
from torchvision.transforms.v2 import functional as F


def to_tensor(frames: np.ndarray) -> torch.Tensor:
    """(T, H, W, 3) uint8 array -> (T, 3, H, W) uint8 tensor."""
    return torch.from_numpy(np.ascontiguousarray(frames)).permute(0, 3, 1, 2)


def resize_short(video: torch.Tensor, short: int) -> torch.Tensor:
    h, w = video.shape[-2:]
    if min(h, w) == short:
        return video
    if h <= w:
        size = [short, max(short, round(w * short / h))]
    else:
        size = [max(short, round(h * short / w)), short]
    return F.resize(video, size, antialias=True)


def normalise(video: torch.Tensor, mean: tuple[float, ...], std: tuple[float, ...]) -> torch.Tensor:
    """(T, 3, H, W) uint8 -> (3, T, H, W) float32, (x / 255 - mean) / std."""
    out = video.permute(1, 0, 2, 3).float().div_(255)
    m = torch.tensor(mean).view(3, 1, 1, 1)
    s = torch.tensor(std).view(3, 1, 1, 1)
    return out.sub_(m).div_(s)


def train_transform(
    frames: np.ndarray,
    resize: tuple[int, int],
    crop: int,
    mean: tuple[float, ...],
    std: tuple[float, ...],
    rng: np.random.Generator,
    flip: bool = True,
) -> torch.Tensor:
    video = resize_short(to_tensor(frames), max(int(rng.integers(resize[0], resize[1] + 1)), crop))
    h, w = video.shape[-2:]
    top, left = int(rng.integers(h - crop + 1)), int(rng.integers(w - crop + 1))
    video = video[..., top : top + crop, left : left + crop]
    if rng.random() < 0.5 and flip:
        video = video.flip(-1)
    return normalise(video, mean, std)


def eval_transform(
    frames: np.ndarray,
    short: int,
    crop: int | tuple[int, int],
    crops: int,
    mean: tuple[float, ...],
    std: tuple[float, ...],
) -> list[torch.Tensor]:
    """`crops` views of `crop` (a side, or H x W): 1 = centre; 3 = start, centre and end of
    the long side."""
    ch, cw = (crop, crop) if isinstance(crop, int) else crop
    video = resize_short(to_tensor(frames), max(short, ch, cw))
    h, w = video.shape[-2:]
    if crops == 1:
        corners = [((h - ch) // 2, (w - cw) // 2)]
    elif w >= h:
        corners = [((h - ch) // 2, x) for x in (0, (w - cw) // 2, w - cw)]
    else:
        corners = [(y, (w - cw) // 2) for y in (0, (h - ch) // 2, h - ch)]
    return [normalise(video[..., t : t + ch, x : x + cw], mean, std) for t, x in corners]
