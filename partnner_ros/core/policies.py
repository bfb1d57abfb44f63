"""Split policies behind one interface. The live partition manager and the
simulator drive the same objects: ``observe`` every served frame, ``choose`` the
split for the next one."""

from abc import ABC, abstractmethod

from .frames import FrameRecord


class Policy(ABC):
    name = ''

    def __init__(self, num_layers: int):
        self.num_layers = num_layers

    def observe(self, record: FrameRecord) -> None:
        """Learn from one frame's outcome; the static policies ignore it."""

    @abstractmethod
    def choose(self) -> tuple[int, str]:
        """The split to use from now on, and why."""


class EdgeOnly(Policy):
    name = 'edge_only'

    def choose(self):
        return self.num_layers, 'edge_only policy'


class CloudOnly(Policy):
    name = 'cloud_only'

    def choose(self):
        return 0, 'cloud_only policy'


class Fixed(Policy):
    name = 'fixed'

    def __init__(self, num_layers: int, split: int):
        super().__init__(num_layers)
        self.split = split

    def set_split(self, split: int) -> None:
        if not 0 <= split <= self.num_layers:
            raise ValueError(f'split must be in [0, {self.num_layers}], got {split}')
        self.split = split

    def choose(self):
        return self.split, f'fixed split {self.split} set by the user'


POLICIES = ('fixed', 'edge_only', 'cloud_only')


def make_policy(name: str, num_layers: int, split: int = 0) -> Policy:
    if name == 'fixed':
        policy = Fixed(num_layers, 0)
        policy.set_split(split)
        return policy
    if name == 'edge_only':
        return EdgeOnly(num_layers)
    if name == 'cloud_only':
        return CloudOnly(num_layers)
    raise ValueError(f'unknown policy {name!r}; known: {", ".join(POLICIES)}')
