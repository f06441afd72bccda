"""The MTNet family (Stergiou and Poppe, Multi-Temporal Networks).

Importing this package registers mtnet-32, -48, -64, -132 and -200 with `mtbench.registry`.
"""

from mtbench.models.mtnet import MTNet

__all__ = ["MTNet"]
