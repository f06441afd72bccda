"""Training and evaluation of a suite cell: schedules, sampler, checkpoints, DDP, multi-view
evaluation. Nothing here knows a file layout; the data package reads the videos."""
