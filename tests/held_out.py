"""Train a small model on collated clips and score it on held-out ones: the "is this data
learnable, and by what" tests share one loop so that they differ only in data and model."""

import torch
from torch import nn


def fit_epoch(model: nn.Module, optimiser: torch.optim.Optimizer, train: dict) -> None:
    """One epoch of minibatches of 16 in a random order over collated training clips."""
    model.train()
    order = torch.randperm(len(train["label"]))
    for i in range(0, len(order), 16):
        batch = order[i : i + 16]
        loss = nn.functional.cross_entropy(model(train["video"][batch]), train["label"][batch])
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()


def held_out_top1(model: nn.Module, test: dict) -> float:
    """Top-1 (0..1) on collated test clips, first view of each."""
    model.eval()
    with torch.no_grad():
        return (model(test["video"][:, 0]).argmax(1) == test["label"]).float().mean().item()
