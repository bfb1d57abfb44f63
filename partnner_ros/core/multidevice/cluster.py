"""The devices a pipeline may run on and the links between them, as read from the
device file of ``partnner plan``.
"""

import math
from dataclasses import dataclass

import numpy as np

from .costs import MB


@dataclass(frozen=True)
class Device:
    """``speed``: how many times faster than the machine the costs were measured on.
    ``power_w``: drawn while computing, so a stage costs compute seconds x power_w
    joules per frame (energy per unit of compute); ``energy_budget_j`` caps that.
    """

    name: str
    speed: float = 1.0
    memory_bytes: float = math.inf
    power_w: float = 0.0
    energy_budget_j: float = math.inf

    def __post_init__(self):
        if not self.speed > 0 or not self.memory_bytes > 0:
            raise ValueError(f'device {self.name}: speed and memory must be positive')


@dataclass
class Cluster:
    """Devices and the bandwidth (bit/s) from device i to device j; 0 means no link.

    ``source`` is the device whose camera produces the frames: when the first stage
    runs elsewhere, sending it the input is a link like the others. Without a
    source the input is already at the first stage (the papers' setting).
    """

    devices: list[Device]
    bandwidth_bps: np.ndarray
    source: int | None = None

    def __post_init__(self):
        self.bandwidth_bps = np.asarray(self.bandwidth_bps, dtype=float)
        n = len(self.devices)
        if n == 0 or self.bandwidth_bps.shape != (n, n):
            raise ValueError(f'{n} devices need a {n}x{n} bandwidth matrix, got {self.bandwidth_bps.shape}')
        if len({d.name for d in self.devices}) != n:
            raise ValueError('device names must be unique')
        if self.source is not None and not 0 <= self.source < n:
            raise ValueError(f'source {self.source} is not a device')

    @classmethod
    def from_dict(cls, spec: dict) -> 'Cluster':
        """From the device file's YAML (see ``partnner plan --help``)::

        source: robot                  # optional: where the frames come from
        devices:
          - {name: robot, speed: 0.2, memory_mb: 512, power_w: 6, energy_budget_j: 0.5}
          - {name: laptop, speed: 1.0, memory_mb: 4096}
        links:                         # Mbit/s, both directions; unlisted pairs have no link
          - [robot, laptop, 20]
        # or instead of links, a full matrix (row: from, column: to):
        # bandwidth_mbps: [[0, 20], [20, 0]]
        """
        devices = []
        for d in spec.get('devices') or []:
            unknown = set(d) - {'name', 'speed', 'memory_mb', 'power_w', 'energy_budget_j'}
            if 'name' not in d or unknown:
                raise ValueError(f'device {d}: needs a name and knows only speed, memory_mb, power_w, '
                                 'energy_budget_j')
            devices.append(Device(str(d['name']), float(d.get('speed', 1.0)),
                                  float(d.get('memory_mb', math.inf)) * MB, float(d.get('power_w', 0.0)),
                                  float(d.get('energy_budget_j', math.inf))))
        index = {d.name: i for i, d in enumerate(devices)}

        def find(name):
            if name not in index:
                raise ValueError(f'no device named {name!r}; devices: {", ".join(index)}')
            return index[name]
        if 'bandwidth_mbps' in spec:
            bw = np.array(spec['bandwidth_mbps'], dtype=float) * 1e6
        else:
            bw = np.zeros((len(devices), len(devices)))
            for a, b, mbps in spec.get('links') or []:
                bw[find(a), find(b)] = bw[find(b), find(a)] = float(mbps) * 1e6
        source = spec.get('source')
        return cls(devices, bw, None if source is None else find(source))
