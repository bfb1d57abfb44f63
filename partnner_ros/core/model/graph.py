"""A DNN as a list of layers with explicit data flow, and the cuts between them.

Values are numbered: value 0 is the model input and value ``i + 1`` is the output
of layer ``i``. Cut ``k`` is the boundary after the first ``k`` layers: the head
runs layers ``[0, k)`` and the tail runs ``[k, n)``. The values that cross cut
``k`` (its *live* values) are those produced at or before the cut and consumed
after it, so skip connections are carried explicitly and ``tail(head(x, k), k)``
equals the full forward at every ``k``.
"""

import time
from dataclasses import dataclass
from typing import Any, Callable, Sequence

import torch

INPUT = 0


@dataclass(frozen=True)
class Layer:
    """One step of the forward pass.

    ``run`` is called with the values named by ``srcs``, in order, and returns
    this layer's output value.
    """

    name: str
    kind: str
    srcs: tuple[int, ...]
    run: Callable[..., Any]


class LayerGraph:
    """Layers in execution order, with the live values of every cut."""

    def __init__(self, layers: Sequence[Layer]):
        if not layers:
            raise ValueError('a model needs at least one layer')
        self.layers = tuple(layers)
        self.n = len(self.layers)
        last_use = {INPUT: -1}
        for i, layer in enumerate(self.layers):
            for v in layer.srcs:
                if not 0 <= v <= i:
                    raise ValueError(f'layer {i} ({layer.name}) reads value {v}, which does not exist yet')
                last_use[v] = i
            last_use.setdefault(i + 1, -1)
        last_use[self.n] = self.n  # the model output is always needed
        self._last_use = last_use
        self._live = tuple(
            tuple(v for v in range(k + 1) if last_use[v] >= k) for k in range(self.n + 1))

    def live(self, k: int) -> tuple[int, ...]:
        """The value ids crossing cut ``k``, ascending."""
        self._check_cut(k)
        return self._live[k]

    def run_layers(self, values: dict[int, Any], start: int, stop: int,
                   timings: list[float] | None = None) -> dict[int, Any]:
        """Run layers ``[start, stop)`` over ``values`` (which must hold ``live(start)``).

        Returns the values live at ``stop``. Values are released after their last
        use, so peak memory stays that of the plain forward. If ``timings`` is a
        list, each layer's milliseconds are appended to it.
        """
        self._check_cut(start)
        self._check_cut(stop)
        env = dict(values)
        last_use = self._last_use
        for i in range(start, stop):
            layer = self.layers[i]
            t0 = time.perf_counter()
            env[i + 1] = layer.run(*[env[v] for v in layer.srcs])
            if timings is not None:
                timings.append((time.perf_counter() - t0) * 1e3)
            for v in layer.srcs:
                if last_use[v] == i:
                    del env[v]
        return {v: env[v] for v in self._live[stop]}

    def head(self, x: torch.Tensor, k: int, timings: list[float] | None = None) -> list[Any]:
        """Run layers ``[0, k)`` and return the values live at cut ``k``."""
        return self.advance([x], 0, k, timings)

    @torch.inference_mode()
    def advance(self, live: Sequence[Any], start: int, stop: int, timings: list[float] | None = None) -> list[Any]:
        """From the values live at cut ``start``, run on to cut ``stop`` (a deeper cut)."""
        ids = self.live(start)
        if len(live) != len(ids):
            raise ValueError(f'cut {start} carries {len(ids)} tensors, got {len(live)}')
        out = self.run_layers(dict(zip(ids, live)), start, stop, timings)
        return [out[v] for v in self._live[stop]]

    def tail(self, live: Sequence[Any], k: int, timings: list[float] | None = None) -> Any:
        """Run layers ``[k, n)`` from the values live at cut ``k``; return the output."""
        return self.advance(live, k, self.n, timings)[0]

    def forward(self, x: torch.Tensor) -> Any:
        """The output of all layers run on input ``x``."""
        return self.tail(self.head(x, 0), 0)

    def _check_cut(self, k: int) -> None:
        if not (isinstance(k, int) and 0 <= k <= self.n):
            raise ValueError(f'split must be an integer in [0, {self.n}], got {k!r}')
