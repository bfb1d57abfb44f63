"""Every split policy by name: the interface and static policies (:mod:`.policy`),
partnner (:mod:`.partnner`) and the baselines (:mod:`.baselines`).
"""

from .baselines import ANS, Neurosurgeon
from .partnner import Partnner
from .policy import CloudOnly, EdgeOnly, Fixed, Policy
from .split_space import SplitSpace

__all__ = ['ANS', 'ADAPTIVE', 'CloudOnly', 'EdgeOnly', 'Fixed', 'Neurosurgeon', 'POLICIES', 'Partnner', 'Policy',
           'STATIC', 'make_policy']


STATIC = ('fixed', 'edge_only', 'cloud_only')
ADAPTIVE = ('partnner', 'neurosurgeon', 'ans')
POLICIES = ('partnner',) + STATIC + ('neurosurgeon', 'ans')


def make_policy(name: str, num_layers: int, split: int = 0, space: SplitSpace | None = None,
                probe_share: float = 0.05, seed: int = 0) -> Policy:
    """A new policy by name (``probe_share``: partnner's probe budget, ``seed``: its random draws); raises
    ValueError for an unknown name or an adaptive one without ``space``.
    """
    if name == 'fixed':
        policy = Fixed(num_layers, 0)
        policy.set_split(split)
        return policy
    if name == 'edge_only':
        return EdgeOnly(num_layers)
    if name == 'cloud_only':
        return CloudOnly(num_layers)
    if name in ADAPTIVE:
        if space is None:
            raise ValueError(f'policy {name} needs the split space of the model')
        if name == 'partnner':
            return Partnner(space, probe_share=probe_share, seed=seed)
        return {'neurosurgeon': Neurosurgeon, 'ans': ANS}[name](space)
    raise ValueError(f'unknown policy {name!r}; known: {", ".join(POLICIES)}')
