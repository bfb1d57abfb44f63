"""The checks a Features message passes before the cloud uses any of it: each refusal names one of a
few fixed kinds (counted and logged once each), whatever text the sender put in the message."""

import pytest

from partnner_ros.core.wire import codec
from partnner_ros.core.wire.feature_check import Rejected, check_features
from partnner_ros.msg import Features
from partnner_ros.nodes.messages import wire_to_msg

MODEL = 'resnet18'
SPLIT = 20


@pytest.fixture(scope='module')
def good(get_model, photos):
    model = get_model(MODEL)
    x, meta = model.preprocess(photos[0])
    live = model.head(x, SPLIT)
    return model, Features(model_fingerprint=model.fingerprint, split=SPLIT, codec='fp16+lz4',
                           tensors=[wire_to_msg(codec.encode(n, t, 'fp16+lz4'))
                                    for n, t in zip(model.live_names(SPLIT), live)],
                           image_width=meta.width, image_height=meta.height, scale_x=meta.scale_x,
                           scale_y=meta.scale_y, pad_x=meta.pad_x, pad_y=meta.pad_y, edge_compute_ms=12.0)


def changed(msg, **fields):
    out = Features(**{f: getattr(msg, f) for f in msg.get_fields_and_field_types()})
    for name, value in fields.items():
        setattr(out, name, value)
    return out


def test_a_good_message_passes(good):
    model, msg = good
    check_features(model, msg, model.num_layers)


@pytest.mark.parametrize('fields', [
    {'image_width': 2**32 - 1}, {'image_width': 0}, {'image_height': 70000},
    {'image_width': 20000, 'image_height': 20000},
    {'scale_x': float('nan')}, {'scale_y': float('inf')}, {'scale_x': 0.0}, {'scale_y': -1.0}, {'scale_x': 1e5},
    {'pad_x': float('nan')}, {'pad_y': -float('inf')}, {'pad_x': 1e6},
], ids=str)
def test_image_metadata_that_is_not_a_camera_image_is_rejected(good, fields):
    model, msg = good
    with pytest.raises(Rejected, match='bad image metadata') as e:
        check_features(model, changed(msg, **fields), model.num_layers)
    assert e.value.kind == 'bad image metadata'


@pytest.mark.parametrize('fields', [{'edge_compute_ms': float('nan')}, {'edge_queue_ms': -1.0},
                                    {'edge_layer_ms': [1.0, float('inf')]}], ids=str)
def test_edge_durations_that_are_not_durations_are_rejected(good, fields):
    model, msg = good
    with pytest.raises(Rejected) as e:
        check_features(model, changed(msg, **fields), model.num_layers)
    assert e.value.kind == 'bad edge durations'


def test_the_kinds_stay_few_whatever_the_sender_writes(good):
    model, msg = good
    kinds = set()
    for i in range(200):
        bad = [changed(msg, model_fingerprint=f'{i:016x}'), changed(msg, split=1000 + i),
               changed(msg, tensors=[changed_tensor(t, f'name{i}') for t in msg.tensors]),
               changed(msg, image_width=100_000 + i)]
        for m in bad:
            with pytest.raises(Rejected) as e:
                check_features(model, m, model.num_layers)
            assert str(e.value).startswith(e.value.kind + ': ')
            kinds.add(e.value.kind)
    assert kinds == {'foreign model', 'split not servable', 'wrong tensors', 'bad image metadata'}


def changed_tensor(t, name):
    t = type(t)(**{f: getattr(t, f) for f in t.get_fields_and_field_types()})
    t.name = name
    return t
