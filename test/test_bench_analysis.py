"""The bench's figures from hand-made run files: live oracle per segment, convergence,
overhead, frame accounting, and the trace replay schedule (no root, no ROS)."""

import csv
import json

import numpy as np
import pytest

from partnner_ros.core.simulation.traces import Steps, Trace, trace_from_spec
from partnner_ros.testbed.analysis import LiveRun, convergence, live_oracle, overhead, segment_edges
from partnner_ros.testbed.observer import FRAME_FIELDS, STATE_FIELDS
from partnner_ros.testbed.timeline import MIN_MBPS, load_events, rate_events

T0 = 1_700_000_000_000_000_000
N = 10  # layers of the made-up model


def write_run(folder, label, frames, images=None, num_layers=N):
    """frames: (time_s, split, e2e_ms, status, bytes) rows; the other durations are made
    to add up: e2e = 10 ms queue + 20 ms compute + transfer/rest."""
    folder.mkdir(parents=True)
    with open(folder / 'frames.csv', 'w', newline='') as f:
        w = csv.writer(f)
        w.writerow(FRAME_FIELDS)
        for seq, (t, split, e2e, status, size) in enumerate(frames):
            stamp = T0 + int(t * 1e9)
            w.writerow([seq, stamp, stamp + int(e2e * 1e6), status, split, e2e, 30.0, 5.0, 10.0, 10.0, 5.0, 3.0, 2.0,
                        1.0, 0.0, size, ''])
    with open(folder / 'images.csv', 'w') as f:
        f.write('stamp_ns\n' + ''.join(f'{T0 + int(t * 1e9)}\n' for t in (images if images is not None
                                                                          else [r[0] for r in frames])))
    with open(folder / 'states.csv', 'w') as f:
        f.write(','.join(STATE_FIELDS) + '\n' + f'{T0},0,1,1.0,0,0,start\n')
    (folder / 'run.json').write_text(json.dumps({'label': label, 't0_ns': T0, 'num_layers': num_layers}))
    return LiveRun.load(folder)


def steady(split, ms_before, ms_after, step_s=20.0, duration=40.0, every=0.5):
    return [(t, split, ms_before if t < step_s else ms_after, 0, 1000) for t in np.arange(0.0, duration, every)]


def test_the_live_oracle_takes_each_segments_fastest_fixed_split_and_convergence_counts_frames(tmp_path):
    trace = Trace.steps([20.0, 2.0], 20.0)
    edges = segment_edges(trace, 40.0, 10.0)
    assert list(edges) == [0.0, 10.0, 20.0, 30.0, 40.0]
    fixed = {0: write_run(tmp_path / 'a', 'cloud_only', steady(0, 100, 400)),
             4: write_run(tmp_path / 'b', 'fixed:4', steady(4, 150, 200)),
             N: write_run(tmp_path / 'c', 'edge_only', steady(N, 300, 300))}
    oracle = live_oracle(fixed, edges)
    assert list(oracle.best_split) == [0, 0, 4, 4]
    assert np.allclose(oracle.best_ms, [100, 100, 200, 200])
    assert oracle.weighted(oracle.best_ms) == pytest.approx(150.0)
    # a policy that stays at 0 for three frames after the step, then moves to 4
    frames = [(t, 0 if t < 21.5 else 4, 100 if t < 20 else (400 if t < 21.5 else 200), 0, 1000)
              for t in np.arange(0.0, 40.0, 0.5)]
    run = write_run(tmp_path / 'p', 'partnner', frames)
    (c,) = convergence(run, oracle, [20.0])
    assert c['reached'] and c['oracle_splits'] == [4]
    assert c['frames'] == 4 and c['seconds'] == pytest.approx(1.5)
    never = write_run(tmp_path / 'q', 'stuck', steady(0, 100, 400))
    (c,) = convergence(never, oracle, [20.0])
    assert not c['reached'] and c['frames'] == 20


def test_segments_also_start_at_the_traces_steps():
    edges = segment_edges(Trace.steps([20.0, 2.0, 20.0], 25.0), 75.0, 10.0)
    assert 25.0 in edges and 50.0 in edges and edges[-1] == 75.0
    assert np.all(np.diff(edges) <= 10.0 + 1e-9)
    assert np.all(np.diff(edges) >= 2.5 - 1e-9)


def test_accounting_counts_every_camera_frame(tmp_path):
    frames = [(0.0, 0, 100, 0, 1000), (0.2, 0, 0, 1, 0), (0.4, 0, 0, 2, 0), (0.6, 0, 120, 0, 1000)]
    run = write_run(tmp_path / 'r', 'x', frames, images=[0.0, 0.2, 0.4, 0.6, 0.8])
    a = run.accounting()
    assert a == {'frames_in': 5, 'ok': 2, 'dropped': 1, 'lost': 1, 'rejected': 0, 'failed': 0, 'missing': 1}
    assert run.mean_ms == pytest.approx(110.0)


def test_overhead_is_what_compute_waiting_and_the_ideal_transfer_do_not_explain(tmp_path):
    trace = Trace.steps([8.0], 100.0)  # 1 MB/s
    # 100 KB at 1 MB/s = 100 ms, the 2 KB result 2 ms; queue 10 + compute (3 + 10 + 5 + 2) = 20
    run = write_run(tmp_path / 'o', 'x', [(1.0, 3, 10 + 20 + 102 + 4, 0, 100_000)])
    o = overhead(run, trace, delay_ms=0.0)
    assert o['ideal_transfer_ms'] == pytest.approx(102.0, abs=0.01)
    assert o['overhead_ms'] == pytest.approx(4.0, abs=0.01)
    assert o['within_target']
    edge_only = write_run(tmp_path / 'e', 'x', [(1.0, N, 60.0, 0, 0)])
    assert overhead(edge_only, trace, 0.0)['ideal_transfer_ms'] == 0.0
    slow = write_run(tmp_path / 's', 'x', [(1.0, 3, 10 + 20 + 102 + 40, 0, 100_000)])
    assert not overhead(slow, trace, 0.0)['within_target']


def test_the_replayed_schedule_follows_the_trace_and_repeats_it():
    applied = []
    events = rate_events(Trace([0.0, 1.5, 4.0], [3.0, 0.0, 6.0]), 10.0, applied.append)
    # the trace lasts 6 s (its last sample holds for the median step, 2 s) and then repeats
    assert [round(e.at_s, 2) for e in events] == [0.0, 1.5, 4.0, 6.0, 7.5]
    for e in events:
        e.apply()
    assert applied == [3.0, MIN_MBPS, 6.0, 3.0, MIN_MBPS]
    quotas = []
    for e in load_events(Steps.parse('40:4,80:1'), quotas.append):
        e.apply()
    assert quotas == [None, 0.25, None]


def test_synthetic_traces_from_their_spec():
    steps = trace_from_spec('steps:20,2,20@30')
    assert [steps.rate_at(t) / 1e6 for t in (0, 31, 61)] == [20.0, 2.0, 20.0]
    ramp = trace_from_spec('ramp:10,1@60')
    assert ramp.rate_at(0) / 1e6 == 10.0 and ramp.rate_at(59.5) / 1e6 < 1.2
    for bad in ('steps:20,x@30', 'ramp:1@60', 'no/such/trace.txt'):
        with pytest.raises(ValueError):
            trace_from_spec(bad)


def test_the_quota_search_interpolates_between_tries_on_either_side():
    from partnner_ros.testbed.bench import _next_quota
    # one try too slow: scale the quota by how far off it is
    assert _next_quota([(0.1, 15.0, None)], 10.0) == pytest.approx(0.15)
    # one either side: between them, where 1/ratio reaches 1/target
    cpus = _next_quota([(0.1, 15.4, None), (0.154, 7.2, None)], 10.0)
    assert 0.1 < cpus < 0.154 and cpus == pytest.approx(0.1256, abs=0.001)
    # the closest bracket is used, not the first tries
    assert 0.111 < _next_quota([(0.1, 15.4, None), (0.154, 7.2, None), (0.111, 14.3, None)], 10.0) < 0.154
