"""Runtimes other than PyTorch: export once per cell (`export`), open a session with the
cell's threads (`sessions`), prove the outputs equal to PyTorch's (`equality`), and hand the
session over as the cell's executor (`runtime`), which `mtbench.measure` times like any other.
Their names and checks are `mtbench.runtimes`."""
