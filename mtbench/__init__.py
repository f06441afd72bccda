"""mtbench: what does a video architecture cost, and what does it buy?"""

__version__ = "0.1.0"
