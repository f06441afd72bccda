"""Where a suite's cells run: here (the runner's own loop) or on SLURM through submitit.

The runner decides which cells are still to do and how one cell executes; a launcher only
decides where. The store is the only meeting point.
"""
