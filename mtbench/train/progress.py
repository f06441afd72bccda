"""Training progress on the console: an epoch bar and a step bar with loss, LR, clips/s, ETA."""

from __future__ import annotations

from typing import Any

from rich.progress import Progress


class TrainProgress:
    """Drives bars on the suite's rich Progress; silent without one (other DDP ranks, tests)."""

    def __init__(self, progress: Progress | None = None, title: str = "") -> None:
        self.progress = progress
        self.title = title
        self.epochs = self.steps = None

    def _task(self, name: str, description: str, total: int, completed: int = 0) -> None:
        if self.progress is None:
            return
        task = getattr(self, name)
        if task is None:
            setattr(
                self, name, self.progress.add_task(description, total=total, completed=completed)
            )
        else:
            self.progress.reset(task, total=total, completed=completed, description=description)

    def start_training(self, epochs: int, done: int) -> None:
        self._task("epochs", f"{self.title}: epochs", epochs, done)

    def start_epoch(self, epoch: int, steps: int) -> None:
        self._task("steps", f"  epoch {epoch + 1}", steps)

    def step(self, loss: float, lr: float, clips_per_s: float) -> None:
        if self.progress is not None and self.steps is not None:
            description = f"  loss {loss:.3f} lr {lr:.2e} {clips_per_s:.1f} clips/s"
            self.progress.update(self.steps, advance=1, description=description)

    def end_epoch(self, line: dict[str, Any]) -> None:
        if self.progress is not None and self.epochs is not None:
            self.progress.update(
                self.epochs,
                advance=1,
                description=f"{self.title}: epoch {line['epoch']} loss {line['loss']:.3f}"
                f" top-1 {line['train_top1']:.1f}%",
            )

    def start_eval(self, videos: int) -> None:
        self._task("steps", "  evaluating", videos)

    def eval_step(self, videos: int) -> None:
        if self.progress is not None and self.steps is not None:
            self.progress.update(self.steps, advance=videos)

    def close(self) -> None:
        if self.progress is None:
            return
        for task in (self.epochs, self.steps):
            if task is not None:
                self.progress.remove_task(task)
        self.epochs = self.steps = None
