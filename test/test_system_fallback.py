"""The live system with a classifier: codec tolerance, and falling back to
edge-only when the cloud dies, then back when it returns."""

import time

import pytest
import torch
from ros_system import System

from partnner_ros.core.adaptation.frames import Status

MODEL = 'resnet18'
SPLIT = 20


@pytest.fixture(scope='module')
def system(ros, tmp_path_factory):
    s = System(tmp_path_factory.mktemp('logs'), model=MODEL, threads=1)
    s.start('cloud')
    s.start('edge', codec='fp16+lz4', result_timeout=2.0)
    s.start('partition_manager', policy='fixed', split=SPLIT, cloud_timeout=2.0)
    try:
        s.wait_ready(split=SPLIT)
        yield s
    finally:
        s.stop()


def test_classification_matches_local_forward_within_fp16_tolerance(system, get_model, photos):
    local = get_model(MODEL)
    first = len(system.results)
    system.run_frames(photos)
    for rgb, msg in zip(photos, system.results[first:]):
        probs = torch.softmax(local.forward(local.preprocess(rgb)[0])[0], 0)
        assert len(msg.results) == 5
        for hyp in msg.results:
            assert abs(hyp.score - float(probs[local.labels.index(hyp.class_id)])) < 0.01
        best = probs.topk(2)
        if float(best.values[0] - best.values[1]) > 0.01:
            assert msg.results[0].class_id == local.labels[int(best.indices[0])]


def test_dead_cloud_means_edge_only_within_the_deadline_and_back(system, photos):
    n = system.state().num_layers
    start = len(system.sent_headers)
    killed = {}

    def kill_at_5(i):
        if i == 5:
            system.kill('cloud')
            killed['at'] = time.monotonic()
    system.run_frames([photos[i % len(photos)] for i in range(16)], max_outstanding=2, between=kill_at_5,
                      timeout=30)
    system.spin_until(lambda: any(t > killed['at'] and s.split == n for t, s in system.states), 5,
                      'the manager to fall back')
    fallback = next(t for t, s in system.states if t > killed['at'] and s.split == n)
    assert fallback - killed['at'] <= 2.0, f'fell back after {fallback - killed["at"]:.2f} s'
    assert not next(s for t, s in system.states if t >= fallback).cloud_alive
    outcomes = [system.timings[s] for s in range(start, start + 16)]
    lost = [t for t in outcomes if t.status == Status.LOST]
    assert lost and all('no answer from the cloud' in t.error for t in lost)
    # frames that waited for a slot while the cloud was dying may be replaced by newer ones (stale)
    assert all(t.status in (Status.OK, Status.LOST, Status.DROPPED) for t in outcomes), [
        (t.status, t.error) for t in outcomes]
    assert outcomes[-1].status == Status.OK and outcomes[-1].split == n  # served on the edge meanwhile
    system.spin_until(lambda: system.state().frames_lost >= len(lost), 5, 'the manager to count the losses')

    system.wait_forgotten('cloud')
    system.start('cloud')
    system.wait_ready(split=SPLIT, timeout=90)
    start = len(system.sent_headers)
    system.run_frames(photos)
    after = [system.timings[s] for s in range(start, start + len(photos))]
    assert all(t.status == Status.OK and t.split == SPLIT for t in after), [(t.status, t.split, t.error)
                                                                           for t in after]
