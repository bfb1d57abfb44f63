"""A plan file becomes stage nodes: who runs which block, and how their topics chain."""

import pytest

from partnner_ros.core.multidevice.stages import plan_blocks, stage_nodes


def plan_of(blocks, n=20):
    return {'model': 'resnet18', 'layers': n, 'devices': [{'name': d, 'speed': 0.5} for d, _, _ in blocks],
            'plans': {'bnb': {'plan': {'stages': [{'device': d, 'layers': [a, b]} for d, a, b in blocks]}},
                      'greedy': {'plan': None, 'reason': 'memory'}}}


def test_three_blocks_chain_edge_a_middle_stage_and_the_cloud():
    edge, middle, last = stage_nodes(plan_of([('robot', 0, 5), ('jetson', 5, 12), ('laptop', 12, 20)]))
    assert (edge.name, edge.kind, edge.params['split'], edge.params['max_in_flight']) == ('edge', 'edge', 5, 4)
    assert (middle.name, middle.kind, middle.params['stop'], middle.device) == ('stage_1', 'cloud', 12, 'jetson')
    assert middle.remappings == {'features': 'features', 'features_out': 'features_1',
                                 'cloud_status': 'stage_1/status'}
    assert (last.name, last.kind, last.params, last.remappings) == ('cloud', 'cloud', {}, {'features': 'features_1'})


def test_one_block_is_edge_only_and_two_are_edge_and_cloud():
    (only,) = stage_nodes(plan_of([('robot', 0, 20)]))
    assert only.kind == 'edge' and only.params['split'] == 20
    edge, cloud = stage_nodes(plan_of([('robot', 0, 7), ('laptop', 7, 20)]))
    assert edge.params['split'] == 7 and cloud.name == 'cloud' and cloud.remappings == {'features': 'features'}


def test_bad_plans_are_refused_with_the_reason():
    with pytest.raises(ValueError, match='no feasible plan|memory'):
        plan_blocks(plan_of([('robot', 0, 20)]), 'greedy')
    with pytest.raises(ValueError, match="no 'dp' plan"):
        plan_blocks(plan_of([('robot', 0, 20)]), 'dp')
    with pytest.raises(ValueError, match='contiguous'):
        plan_blocks(plan_of([('robot', 0, 5), ('laptop', 6, 20)]))
    with pytest.raises(ValueError, match='contiguous'):
        plan_blocks(plan_of([('robot', 0, 5), ('laptop', 5, 19)]))
