"""The partition manager against a frozen, dead, missing or meddled-with edge and cloud: it keeps
control of the split and says what is wrong."""

import json
import os
import signal

import pytest
from ros_system import System

from partnner_ros.core.model.profiler import profile as measure

MODEL = 'resnet18'
SPLIT = 20


@pytest.fixture(scope='module')
def system(ros, tmp_path_factory):
    bad = tmp_path_factory.mktemp('profiles') / 'bad.json'
    bad.write_text('not a profile')
    s = System(tmp_path_factory.mktemp('logs'), model=MODEL, threads=1)
    s.start('cloud')
    s.start('edge')
    s.start('partition_manager', policy='fixed', split=SPLIT, edge_profile=str(bad), cloud_profile=str(bad))
    try:
        s.wait_ready(split=SPLIT)
        yield s
    finally:
        s.stop()


def manager(system) -> dict:
    return system.diagnostic('partition_manager')


def test_a_split_set_on_the_edge_directly_is_set_back(system):
    assert system.set_params('edge', split=5)[0].successful
    system.spin_until(lambda: system.get_param('edge', 'split') == SPLIT, 10, 'the manager to set the split back')
    system.spin_until(lambda: int(manager(system).get('edge_set_from_outside', 0)) >= 1, 5, 'the diagnostics')
    # the state that reported the outside split may be the last one heard until the next is published
    system.spin_until(lambda: system.state().split == SPLIT, 5, 'the partition state to say the split again')
    assert 'was set to 5 from outside' in system.logs()


def test_neurosurgeon_with_unreadable_profiles_is_refused_at_run_time(system):
    result = system.set_params('partition_manager', policy='neurosurgeon')[0]
    assert not result.successful and 'neurosurgeon' in result.reason and 'not JSON' in result.reason
    system.spin_for(1.0)
    assert system.procs['partition_manager'].poll() is None
    assert system.state().policy == 'fixed' and system.state().split == SPLIT


def test_pings_resume_when_the_cloud_dies_while_one_is_in_flight(system):
    os.killpg(system.procs['cloud'].pid, signal.SIGSTOP)
    system.spin_for(2.5)  # a ping (every second) goes out and gets no answer
    system.kill('cloud')
    before = int(manager(system)['pings'])
    system.start('cloud')
    system.spin_until(lambda: int(manager(system)['pings']) > before, 90, 'a ping answered by the new cloud')
    assert int(manager(system)['ping_timeouts']) >= 1


def test_a_missing_edge_is_reported(ros, tmp_path):
    s = System(tmp_path / 'logs', model='no_such_model')
    try:
        edge = s.start('edge')
        s.start('partition_manager', policy='fixed')
        assert edge.wait(60) == 1
        s.spin_until(lambda: s.diagnostic('partition_manager').get('edge_answers') == 'False', 30,
                     'the manager to say there is no edge', ignore=('edge',))
    finally:
        s.stop()
    logs = s.logs()
    assert "cannot start: unknown model 'no_such_model'" in logs and 'Traceback' not in logs, logs


def test_neurosurgeon_with_profiles_of_another_model_says_it_runs_edge_only(ros, tmp_path, get_model):
    other = tmp_path / 'mobilenet.json'
    other.write_text(json.dumps(measure(get_model('mobilenet_v3_large'), ['fp16+lz4', 'jpeg'], repeats=1,
                                        fidelity=False)))
    s = System(tmp_path / 'logs', model=MODEL, threads=1)
    try:
        s.start('edge')
        s.start('partition_manager', policy='neurosurgeon', edge_profile=str(other), cloud_profile=str(other))
        s.spin_until(lambda: s.state() is not None and s.state().num_layers > 0, 90, 'the manager to read the edge')
        assert s.state().policy == 'edge_only' and s.state().split == s.state().num_layers
        s.spin_until(lambda: 'layers' in s.diagnostic('partition_manager').get('policy_error', ''), 10,
                     'the diagnostics to say why')
        assert s.diagnostic('partition_manager')['policy_error'].startswith('policy neurosurgeon: the profiles')
    finally:
        s.stop()
