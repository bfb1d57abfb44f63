"""Rolling latency statistics over the most recent frames."""

from collections import deque

import numpy as np


class RollingStats:
    def __init__(self, window: int = 100):
        self._values: deque[float] = deque(maxlen=window)

    def add(self, value: float) -> None:
        self._values.append(float(value))

    def __len__(self) -> int:
        return len(self._values)

    @property
    def last(self) -> float:
        return self._values[-1] if self._values else 0.0

    @property
    def mean(self) -> float:
        return float(np.mean(self._values)) if self._values else 0.0

    @property
    def p95(self) -> float:
        return float(np.percentile(self._values, 95)) if self._values else 0.0

    def resize(self, window: int) -> None:
        self._values = deque(self._values, maxlen=window)
