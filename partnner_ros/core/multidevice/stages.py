"""From a pipeline plan (``partnner plan --json``) to the nodes that run it.

The first block runs on an edge node (camera in, head out); every middle block on
a cloud node with ``stop`` set, which forwards the tensors on; the last block on a
cloud node, which publishes the results. Stage i's output topic is ``features_i``;
the edge's is ``features``. Used by ``partnner pipeline`` and pipeline.launch.py.
"""

from dataclasses import dataclass, field


@dataclass(frozen=True)
class StageNode:
    """The node process that runs one block of a plan: its ROS name, kind, device, layers, parameters and remappings."""

    name: str          # ROS node name
    kind: str          # 'edge' or 'cloud'
    device: str
    start: int
    stop: int
    params: dict = field(default_factory=dict)
    remappings: dict = field(default_factory=dict)


def plan_blocks(plan: dict, algo: str = 'bnb') -> tuple[int, list[tuple[str, int, int]]]:
    """(num_layers, [(device, start, stop), ...]) of one algorithm's plan in a plan file."""
    try:
        solution = plan['plans'][algo]
    except KeyError:
        raise ValueError(f'the plan file has no {algo!r} plan; it has {", ".join(plan.get("plans", {}))}') from None
    if not solution.get('plan'):
        raise ValueError(f'the {algo} plan is empty: {solution.get("reason") or "no feasible plan"}')
    n = int(plan['layers'])
    blocks = [(s['device'], int(s['layers'][0]), int(s['layers'][1])) for s in solution['plan']['stages']]
    edges = [b[1] for b in blocks] + [blocks[-1][2]]
    if edges[0] != 0 or edges[-1] != n or any(a >= b for a, b in zip(edges, edges[1:])) or any(
            b1[2] != b2[1] for b1, b2 in zip(blocks, blocks[1:])):
        raise ValueError(f'the {algo} plan does not cover layers 0..{n} in contiguous blocks: {blocks}')
    return n, blocks


def stage_nodes(plan: dict, algo: str = 'bnb', codec: str = 'fp16+lz4') -> list[StageNode]:
    """The nodes of one algorithm's plan in pipeline order, linked by their topics, with ``codec`` between them."""
    n, blocks = plan_blocks(plan, algo)
    nodes = [StageNode('edge', 'edge', blocks[0][0], 0, blocks[0][2],
                       {'split': blocks[0][2], 'codec': codec, 'max_in_flight': min(16, len(blocks) + 1)})]
    for i, (device, start, stop) in enumerate(blocks[1:], 1):
        last = i == len(blocks) - 1
        remap = {'features': 'features' if i == 1 else f'features_{i - 1}'}
        if last:
            nodes.append(StageNode('cloud', 'cloud', device, start, stop, {}, remap))
        else:
            remap.update({'features_out': f'features_{i}', 'cloud_status': f'stage_{i}/status'})
            nodes.append(StageNode(f'stage_{i}', 'cloud', device, start, stop, {'stop': stop, 'codec': codec}, remap))
    return nodes
