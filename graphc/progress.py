"""A plain-text progress bar for training (no dependency): one line per update, rewritten
in place on a terminal.

    epoch  7/20 [########............]  loss 0.3127  accuracy 94.2%  val_accuracy 93.1%
"""

from __future__ import annotations

import sys
from typing import TextIO


def format_metric(name: str, value: float) -> str:
    """'accuracy 94.2%' for accuracies, 'loss 0.3127' for everything else."""
    if "accuracy" in name:
        return f"{name} {value:.1%}"
    return f"{name} {value:.4f}"


class ProgressBar:
    """A text progress bar over `total` steps with the latest metrics beside it."""

    def __init__(
        self, total: int, label: str = "epoch", width: int = 20, stream: TextIO | None = None
    ):
        self.total = max(int(total), 1)
        self.label = label
        self.width = width
        self.stream = stream if stream is not None else sys.stdout
        self.in_place = getattr(self.stream, "isatty", lambda: False)()
        self._last = ""
        self._open = False  # a terminal line written with \r and not yet ended

    def line(self, step: int, metrics: dict[str, float]) -> str:
        """The text of the bar after `step` steps."""
        filled = round(self.width * step / self.total)
        digits = len(str(self.total))
        text = (
            f"{self.label} {step:>{digits}}/{self.total} "
            f"[{'#' * filled}{'.' * (self.width - filled)}]"
        )
        shown = "  ".join(format_metric(k, float(v)) for k, v in metrics.items())
        return f"{text}  {shown}" if shown else text

    def update(self, step: int, **metrics: float) -> None:
        """Show progress after `step` of `total` steps with the given metrics."""
        text = self.line(step, metrics)
        if self.in_place:
            pad = " " * max(len(self._last) - len(text), 0)
            self.stream.write(f"\r{text}{pad}")
            if step >= self.total:
                self.stream.write("\n")
        elif step >= self.total or step % max(self.total // 10, 1) == 0 or step == 1:
            # in a log or a notebook, about ten lines are enough to see the trend
            self.stream.write(text + "\n")
        self.stream.flush()
        self._last = text
        self._open = self.in_place and step < self.total

    def close(self) -> None:
        """End a bar left mid-line on a terminal (training stopped early), so what is
        printed next starts on a line of its own."""
        if self._open:
            self.stream.write("\n")
            self.stream.flush()
            self._open = False
