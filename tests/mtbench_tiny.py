"""`mtbench` with the test-only tiny model registered (for subprocess and torchrun tests)."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

import tiny_models  # noqa: E402,F401  (registers test-tiny3d)

from mtbench.cli import main  # noqa: E402

if __name__ == "__main__":
    main()
