"""Runtimes other than PyTorch: export once per cell (`export`), open a session with the
cell's threads (`sessions`), prove the outputs equal to PyTorch's (`equality`), then time
(`cell`). Their names and checks are `mtbench.runtimes`."""
