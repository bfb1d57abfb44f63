"""One reader of ``partnner profile --json`` for the simulator, the planner and the
neurosurgeon policy: it reads a real profile, refuses a malformed one, and feeds
the live manager's neurosurgeon what the two machines measured."""

import copy
import json

import numpy as np
import pytest

from partnner_ros.core.adaptation.policies import Neurosurgeon
from partnner_ros.core.adaptation.split_space import SplitSpace
from partnner_ros.core.model.profile_data import Profile
from partnner_ros.core.model.profiler import default_codecs, profile
from partnner_ros.core.wire import formats
from partnner_ros.nodes.partition_manager import neurosurgeon_profile


@pytest.fixture(scope='module')
def measured(get_model):
    return profile(get_model('resnet18'), ['fp16+lz4', 'jpeg', 'jpeg@50'], repeats=1, fidelity=False)


def test_a_real_profile_reads_into_arrays_per_layer_and_per_split(measured):
    p = Profile.parse(measured)
    n = p.num_layers
    assert p.model == 'resnet18' and p.splits[0] == 0 and p.splits[-1] == n and len(p.layer_ms) == n
    assert np.all(p.layer_ms > 0) and p.elements[0] == 3 * 224 * 224 and p.elements[n] == 0
    pay = p.payloads(lambda k: 'jpeg' if k == 0 else 'fp16+lz4')
    usable = list(p.splits[:-1])
    assert np.all(pay.bytes[usable] > 0) and pay.bytes[n] == 0
    assert np.isnan(np.delete(pay.bytes, list(p.splits))).all()
    assert pay.bytes[0] < 3 * 224 * 224  # a jpeg of the input, not raw pixels
    with pytest.raises(ValueError, match='no int8 figures at split'):
        p.payloads(lambda k: 'int8')
    assert np.isnan(p.payloads(lambda k: 'int8', strict=False).bytes[usable]).all()
    q50 = p.payloads(lambda k: 'jpeg@50' if k == 0 else 'fp16+lz4')
    assert 0 < q50.bytes[0] < pay.bytes[0]  # jpeg at quality 50 is smaller than at the default 90
    assert p.task == 'classify'


def test_fidelity_is_optional_and_the_candidates_are_profiled_by_default(measured):
    p = Profile.parse(measured)
    assert measured['fidelity'] is None and all('fidelity' not in cut for cut in measured['cuts'])
    assert p.fidelity(0, 'jpeg') is None and p.fidelity(3, 'fp16+lz4') is None
    assert p.fidelity(p.num_layers, 'fp16+lz4') == 1.0
    assert set(formats.CODECS) | set(formats.CANDIDATES) == set(default_codecs())


@pytest.mark.parametrize('damage, message', [
    (lambda d: d.pop('cuts'), 'not a partnner profile'),
    (lambda d: d['layers'].pop(), 'layers and cuts'),
    (lambda d: d['cuts'].pop(), 'layers and cuts'),
    (lambda d: d['layers'][0].update(ms='fast'), 'not a partnner profile|could not convert'),
])
def test_a_malformed_profile_is_refused_with_the_reason(measured, damage, message):
    bad = copy.deepcopy(measured)
    damage(bad)
    with pytest.raises(ValueError, match=message):
        Profile.parse(bad)


def test_neurosurgeon_gets_both_machines_profiles(measured, tmp_path):
    slow = copy.deepcopy(measured)
    for layer in slow['layers']:
        layer['ms'] *= 10
    (tmp_path / 'robot.json').write_text(json.dumps(slow))
    (tmp_path / 'server.json').write_text(json.dumps(measured))
    space = SplitSpace.from_profile(measured)
    policy = Neurosurgeon(space)
    neurosurgeon_profile(policy, str(tmp_path / 'robot.json'), str(tmp_path / 'server.json'), space)
    n, server = space.num_layers, Profile.parse(measured)
    assert policy.pred_compute[n] == pytest.approx(10 * server.layer_ms.sum())
    cut0 = measured['cuts'][0]
    assert policy.pred_compute[0] == pytest.approx(
        server.layer_ms.sum() + cut0['encode_ms']['jpeg'] + cut0['decode_ms']['jpeg'])
    assert policy.split_bytes[n] == 0 and policy.split_bytes[0] == cut0['bytes']['jpeg']
    short = {**measured, 'num_layers': n - 1, 'layers': measured['layers'][1:]}
    (tmp_path / 'short.json').write_text(json.dumps(short))
    with pytest.raises(ValueError):
        neurosurgeon_profile(policy, str(tmp_path / 'short.json'), str(tmp_path / 'server.json'), space)
