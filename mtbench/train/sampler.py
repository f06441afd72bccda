"""Which clips each step trains on: a pure function of (seed, epoch, rank), so a resumed or
re-run epoch sees exactly the same batches, whatever the number of DataLoader workers."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import torch
from torch.utils.data import Sampler

# A batch's keys: plain indices, or (index, frames, crop) when multigrid changes the shape.
Key = int | tuple[int, int, int]


class EpochBatchSampler(Sampler[list[Key]]):
    """Shuffled batches of one epoch for one rank.

    The permutation is drawn from a generator seeded with (seed, epoch); under DDP it is
    padded to a multiple of the world size and dealt round-robin (as DistributedSampler).
    `shape_of(step)` gives (frames, crop, batch size) per step, or None for the plain shape
    and `batch_size`. A last partial batch is dropped, unless it would be the only one.
    """

    def __init__(
        self,
        num_samples: int,
        batch_size: int,
        *,
        seed: int,
        epoch: int,
        rank: int = 0,
        world_size: int = 1,
        shape_of: Callable[[int], tuple[int, int, int]] | None = None,
    ) -> None:
        self.num_samples = num_samples
        self.batch_size = batch_size
        self.seed, self.epoch = seed, epoch
        self.rank, self.world_size = rank, world_size
        self.shape_of = shape_of
        self._batches = self._plan()

    def _indices(self) -> list[int]:
        generator = torch.Generator().manual_seed(self.seed * 100_003 + self.epoch)
        order = torch.randperm(self.num_samples, generator=generator).tolist()
        padded = -len(order) % self.world_size
        order += order[:padded]
        return order[self.rank :: self.world_size]

    def _plan(self) -> list[list[Key]]:
        indices = self._indices()
        batches: list[list[Key]] = []
        position = 0
        while position < len(indices):
            if self.shape_of is None:
                size, keys = self.batch_size, indices[position : position + self.batch_size]
            else:
                frames, crop, size = self.shape_of(len(batches))
                keys = [(i, frames, crop) for i in indices[position : position + size]]
            if len(keys) < size and batches:
                break
            batches.append(keys)
            position += size
        return batches

    def __iter__(self) -> Iterator[list[Key]]:
        return iter(self._batches)

    def __len__(self) -> int:
        return len(self._batches)

    def state_dict(self) -> dict[str, int]:
        return {"seed": self.seed, "epoch": self.epoch, "rank": self.rank}
