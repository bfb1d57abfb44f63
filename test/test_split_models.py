"""Head [0, k) followed by tail [k, n) equals the full forward, for every zoo model."""

import pytest
import torch

from partnner_ros.core.model.graph import INPUT, Layer, LayerGraph
from partnner_ros.core.model.zoo import ZOO, sample_input

SMALL = ['yolov8n', 'yolo11n', 'resnet18', 'mobilenet_v3_large', 'ssdlite320_mobilenet_v3_large']
BIG = ['resnet50', 'efficientnet_b0', 'vgg16']


def spread(splits, count=12):
    step = max(1, len(splits) // count)
    return sorted(set(splits[::step]) | {splits[0], splits[-1]})


@pytest.mark.parametrize('name', SMALL + BIG)
def test_head_tail_equals_full_forward(get_model, name):
    model = get_model(name)
    assert sorted(ZOO) == sorted(SMALL + BIG)
    x = sample_input(model.input_shape, seed=7)
    full = model.forward(x)
    splits = model.splits if name in SMALL else spread(model.splits)
    assert len(splits) > 10
    for k in splits:
        live = model.head(x, k)
        assert [tuple(t.shape) for t in live] == list(model.live_shapes(k)) or k == model.num_layers
        out = model.tail(live, k)
        assert torch.equal(out, full), f'{name}: split {k} differs by {(out - full).abs().max()}'


def test_every_boundary_is_a_split(get_model):
    for name in SMALL:
        model = get_model(name)
        assert model.splits == list(range(model.num_layers + 1)), name


def test_yolov8n_cuts_carry_skip_connections(get_model):
    model = get_model('yolov8n')
    assert model.num_layers == 23
    assert model.live_shapes(0) == ((1, 3, 640, 640),)
    # layers 4-5: the only mid-network single-tensor cuts, 64x80x80
    assert model.live_shapes(4) == ((1, 64, 80, 80),)
    assert model.live_shapes(5) == ((1, 64, 80, 80),)
    assert model.cut_facts[4].payload_bytes('fp32') == 1_638_400
    # after layer 5 the output of layer 4 must still travel (it feeds the concat at 14)
    assert model.live_shapes(6) == ((1, 64, 80, 80), (1, 128, 40, 40))
    assert all(len(model.live_shapes(k)) >= 2 for k in range(6, 23))
    assert max(len(model.live_shapes(k)) for k in model.splits) >= 4


def test_residual_cut_carries_both_branches(get_model):
    model = get_model('resnet18')
    inside = [k for k in model.splits if len(model.live_shapes(k)) == 2]
    assert inside, 'cuts inside residual blocks must carry the identity branch too'


def test_facts_are_consistent(get_model):
    model = get_model('resnet18')
    total = sum(f.macs for f in model.layer_facts)
    assert 1.7e9 < total < 1.9e9  # ResNet-18 is 1.8 GMACs at 224x224
    for k in model.splits:
        c = model.cut_facts[k]
        assert c.head_macs + c.tail_macs == total
        assert c.payload_bytes('fp32') == 4 * c.payload_bytes('int8') == 2 * c.payload_bytes('fp16')
    heads = [model.cut_facts[k].head_weight for k in model.splits]
    assert heads == sorted(heads) and heads[0] == 0


def test_bad_split_is_refused(get_model):
    model = get_model('resnet18')
    x = sample_input(model.input_shape)
    for bad in (-1, model.num_layers + 1, 2.5, '3'):
        with pytest.raises(ValueError, match='split'):
            model.head(x, bad)
    with pytest.raises(ValueError, match='carries 1 tensors, got 2'):
        model.tail([x, x], 0)


def test_layer_graph_live_sets():
    # v0 -> a -> b ; c(a, b): a skips over b
    ident = lambda *v: v[0]  # noqa: E731
    g = LayerGraph([Layer('a', 'x', (INPUT,), ident), Layer('b', 'x', (1,), ident),
                    Layer('c', 'x', (1, 2), lambda a, b: a + b)])
    assert [g.live(k) for k in range(4)] == [(0,), (1,), (1, 2), (3,)]
    with pytest.raises(ValueError, match='does not exist yet'):
        LayerGraph([Layer('a', 'x', (1,), ident)])


def test_random_weights_give_healthy_activations(get_model):
    """LSUV keeps activations O(1): fp16 payloads and compression stay meaningful."""
    model = get_model('yolov8n')
    x = sample_input(model.input_shape, seed=3)
    for k in (4, 10, 16, 22):
        for t in model.head(x, k):
            assert 0.05 < float(t.std()) < 100, k
