"""The split-policy interface, and the static policies. The live partition manager
and the simulator drive every policy alike: ``observe`` every frame's outcome,
``choose`` the split for the next frames, and ``probe_split`` names a split worth
measuring with a shadow copy of a frame (its result is not used, so it costs no
latency).
"""

from abc import ABC, abstractmethod

from .frames import FrameRecord


class Policy(ABC):
    """A split policy over layers 0..``num_layers``: learns from frame outcomes, chooses splits."""

    name = ''

    def __init__(self, num_layers: int):
        self.num_layers = num_layers

    @property
    def probe_every(self) -> int:
        """Shadow-probe every this many frames (0: never probe)."""
        return 0

    def observe(self, record: FrameRecord) -> None:  # noqa: B027 - a hook; the static policies learn nothing
        """Learn from one frame's outcome; the static policies ignore it."""

    @abstractmethod
    def choose(self) -> tuple[int, str]:
        """The split to use from now on, and why."""

    def probe_split(self) -> int | None:
        """A split to measure with shadow probes, or None."""
        return None

    def codec_for(self, split: int) -> str | None:
        """The codec to send ``split``'s payload with, or None to leave the edge's own."""
        return None


class EdgeOnly(Policy):
    """Always split ``num_layers``: the whole model on the edge."""

    name = 'edge_only'

    def choose(self):
        """Split ``num_layers`` (edge-only), with the reason."""
        return self.num_layers, 'edge_only policy'


class CloudOnly(Policy):
    """Always split 0: the image goes to the cloud, which runs the whole model."""

    name = 'cloud_only'

    def choose(self):
        """Split 0 (cloud-only), with the reason."""
        return 0, 'cloud_only policy'


class Fixed(Policy):
    """The split the user set, never changed by measurements."""

    name = 'fixed'

    def __init__(self, num_layers: int, split: int):
        super().__init__(num_layers)
        self.split = split

    def set_split(self, split: int) -> None:
        """Use ``split`` from now on; raises ValueError outside ``[0, num_layers]``."""
        if not 0 <= split <= self.num_layers:
            raise ValueError(f'split must be in [0, {self.num_layers}], got {split}')
        self.split = split

    def choose(self):
        """The user's split, with the reason."""
        return self.split, f'fixed split {self.split} set by the user'
