"""Rolling latency statistics over the most recent frames."""

from collections import deque

import numpy as np


class RollingStats:
    """Mean, p95 and last of the most recent ``window`` values (0.0 while empty)."""

    def __init__(self, window: int = 100):
        self._values: deque[float] = deque(maxlen=window)

    def add(self, value: float) -> None:
        """Append one value, dropping the oldest beyond the window."""
        self._values.append(float(value))

    def __len__(self) -> int:
        return len(self._values)

    @property
    def last(self) -> float:
        """The most recent value, or 0.0 when empty."""
        return self._values[-1] if self._values else 0.0

    @property
    def mean(self) -> float:
        """Mean of the window, or 0.0 when empty."""
        return float(np.mean(self._values)) if self._values else 0.0

    @property
    def p95(self) -> float:
        """95th percentile of the window, or 0.0 when empty."""
        return float(np.percentile(self._values, 95)) if self._values else 0.0

    @property
    def low(self) -> float:
        """10th percentile of the window (what the values cost without queueing), or 0.0 when empty."""
        return float(np.percentile(self._values, 10)) if self._values else 0.0

    def resize(self, window: int) -> None:
        """Change the window length, keeping the newest values that fit."""
        self._values = deque(self._values, maxlen=window)
