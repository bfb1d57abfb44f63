"""Adaptive partitioning without ROS: estimators, policies on hand-made profiles,
and the simulator's accounting against schedules computed by hand."""

import math
from dataclasses import replace

import numpy as np
import pytest

from partnner_ros.core.adaptation.estimators import LinkEstimator, ShapeProfile, StepTracker
from partnner_ros.core.adaptation.frames import FrameRecord, Status
from partnner_ros.core.adaptation.policies import ANS, Fixed, Neurosurgeon, Partnner, make_policy
from partnner_ros.core.adaptation.split_space import SplitSpace
from partnner_ros.core.simulation.scenario import Platform, Scenario, SimProfile, Truth
from partnner_ros.core.simulation.simulator import convergence, run_all, simulate, simulate_fixed
from partnner_ros.core.simulation.traces import Steps, Trace


# --- estimators -------------------------------------------------------------------------------
def test_step_tracker_is_robust_to_outliers_and_follows_a_step_within_three_samples():
    rng = np.random.default_rng(1)
    t = StepTracker()
    for _ in range(30):
        t.update(100.0 * math.exp(rng.normal(0, 0.05)))
    assert t.value == pytest.approx(100.0, rel=0.05)
    t.update(1000.0)  # one outlier moves nothing
    assert t.value == pytest.approx(100.0, rel=0.05) and t.steps == 0
    for n in range(1, 4):  # noqa: B007 - n, after the loop, is how many samples it took
        t.update(10.0 * math.exp(rng.normal(0, 0.05)))
        if t.value < 20:
            break
    assert t.value == pytest.approx(10.0, rel=0.1) and t.steps == 1, f'no step after {n} samples'
    assert n <= 3


def test_link_estimator_separates_bandwidth_from_round_trip():
    rng = np.random.default_rng(2)
    link = LinkEstimator()
    bandwidth, fixed = 8e6, 20.0
    link.ping(fixed)
    for i in range(40):
        size = (2_000, 400_000)[i % 2]  # a classifier's small tail payload, then a large one
        link.observe(size, (fixed + 8 * size / bandwidth * 1e3) * math.exp(rng.normal(0, 0.03)))
    assert link.bandwidth.value == pytest.approx(bandwidth, rel=0.1)
    assert link.fixed_ms() == pytest.approx(fixed, rel=0.15)
    assert link.transfer_ms(1_000_000) == pytest.approx(fixed + 1000, rel=0.1)
    # a 10x drop is followed within a few large frames
    for n in range(1, 6):  # noqa: B007 - n, after the loop, is how many frames it took
        link.observe(400_000, fixed + 8 * 400_000 / (bandwidth / 10) * 1e3)
        if link.bandwidth.value < bandwidth / 5:
            break
    assert n <= 3 and link.bandwidth.value == pytest.approx(bandwidth / 10, rel=0.1)


def test_pings_that_waited_out_an_outage_do_not_count_as_the_round_trip():
    link = LinkEstimator()
    for rtt in (40.0, 900.0, 2300.0, 41.0, 1500.0, 600.0, 39.0, 3100.0, 1200.0, 700.0):  # 7 of 10 met an outage
        link.ping(rtt)
    assert link.fixed_ms() == pytest.approx(40.0, abs=1.0)
    # so a frame that took 300 ms for 64 kB (wire 260 ms) is priced at about 2 Mbit/s, not 12 or more
    link.observe(64_000, 300.0)
    assert link.bandwidth.value == pytest.approx(8 * 64_000 / 0.26, rel=0.02)


def test_shape_profile_learns_per_layer_costs_and_speed():
    true_ms = np.array([5.0, 30.0, 10.0, 55.0])
    shape = ShapeProfile([1, 1, 1, 1])  # a prior that is wrong about the shape
    for _ in range(20):
        shape.observe(0, 4, true_ms.sum(), true_ms)
    assert shape.predict(0, 2) == pytest.approx(35.0, rel=0.02)
    assert shape.predict(1, 4) == pytest.approx(95.0, rel=0.02)
    # the side gets 4x slower: seen on a partial range, predicted everywhere
    for _ in range(3):
        stepped = shape.observe(0, 2, 4 * 35.0, 4 * true_ms[:2])
    assert shape.scale.steps == 1 and not stepped
    assert shape.predict(2, 4) == pytest.approx(4 * 65.0, rel=0.05)


# --- policies on a hand-made model ---------------------------------------------------------------
# Four layers, usable splits 0..4. Elements are chosen so that fp16 payloads are
# 2 bytes each, the image goes as JPEG.
EDGE_MS = np.array([40.0, 40.0, 40.0, 40.0])      # a slow robot: 160 ms for the model
CLOUD_MS = np.array([4.0, 4.0, 4.0, 4.0])         # a fast server: 16 ms
ELEMENTS = np.array([10_000_000, 2_000_000, 100_000, 5_000, 0])


def space():
    return SplitSpace(4, (0, 1, 2, 3, 4), EDGE_MS / EDGE_MS.sum(), ELEMENTS, codec='fp16', input_codec='jpeg')


class Link:
    """A constant link; payload bytes are exactly the prior's."""

    def __init__(self, mbps: float, rtt_ms: float = 10.0):
        self.bps, self.rtt = mbps * 1e6, rtt_ms
        self.bytes = space().prior_bytes()

    def e2e(self, k: int) -> float:
        transfer = 0.0 if k == 4 else self.rtt + 8 * self.bytes[k] / self.bps * 1e3
        return EDGE_MS[:k].sum() + transfer + CLOUD_MS[k:].sum()

    def optimum(self) -> int:
        return min(range(5), key=self.e2e)

    def record(self, seq: int, k: int, probe: bool = False) -> FrameRecord:
        edge, cloud = EDGE_MS[:k].sum(), CLOUD_MS[k:].sum()
        return FrameRecord(seq, k, Status.OK, int(self.bytes[k]), self.e2e(k), edge, cloud, edge, cloud, 0.0,
                           tuple(EDGE_MS[:k]), tuple(CLOUD_MS[k:]), probe)


def drive(policy, link: Link, frames: int) -> list[int]:
    """Closed loop as in the manager: choose, serve, observe, and probe when asked."""
    chosen = []
    for seq in range(frames):
        k, _ = policy.choose()
        chosen.append(k)
        policy.observe(link.record(seq, k))
        probe = policy.probe_split()
        if policy.probe_every and seq % policy.probe_every == 0 and probe is not None and probe != k:
            policy.observe(link.record(seq, probe, probe=True))
        if hasattr(policy, 'ping'):
            policy.ping(link.rtt)
    return chosen


# (Mbit/s, the split a policy must reach: the link's analytic optimum)
LINKS = {'fast link: cloud-only': (1000.0, 0), 'middling link: a split': (20.0, 3),
         'dead-slow link: edge-only': (0.05, 4)}


def optimal_link(mbps: float, optimum: int) -> Link:
    link = Link(mbps)
    assert link.optimum() == optimum, [round(link.e2e(k)) for k in range(5)]
    return link


@pytest.mark.parametrize('mbps, optimum', LINKS.values(), ids=LINKS.keys())
def test_partnner_finds_the_analytic_optimum(mbps, optimum):
    link = optimal_link(mbps, optimum)
    chosen = drive(Partnner(space()), link, 30)
    assert chosen[-1] == optimum, [round(link.e2e(k)) for k in range(5)]
    assert len(set(chosen[-10:])) == 1  # and stays there


@pytest.mark.parametrize('mbps, optimum', LINKS.values(), ids=LINKS.keys())
def test_neurosurgeon_picks_the_optimum_from_its_profile(mbps, optimum):
    link = optimal_link(mbps, optimum)
    policy = Neurosurgeon(space())
    policy.set_profile(EDGE_MS, CLOUD_MS, link.bytes, np.zeros(5))
    chosen = drive(policy, link, 20)
    assert chosen[-1] == optimum


@pytest.mark.parametrize('mbps, optimum', LINKS.values(), ids=LINKS.keys())
def test_ans_learns_the_optimum_from_latency_alone(mbps, optimum):
    link = optimal_link(mbps, optimum)
    chosen = drive(ANS(space()), link, 400)
    tail = chosen[-200:]
    # it keeps exploring (forced samples, confidence bounds), so: mostly the optimum
    assert max(set(tail), key=tail.count) == optimum, tail
    assert np.mean([link.e2e(k) for k in tail]) <= 1.2 * link.e2e(optimum)


def test_edge_probes_at_cloud_only_cost_the_frames_at_most_a_twentieth_of_their_time():
    """A probe at cloud-only runs the head of an edge split after the frame is sent, holding the pipeline
    for up to the head's whole time. On a link where one transfer in five waits out a 300 ms stall, frames
    at cloud-only take 94 ms on average and four in five take 34: charging a probe only its predicted gap
    to cloud-only probed split 2 (80 ms of head) every 8 to 16 frames, 9% of the frames' time."""
    link = Link(1000.0)
    policy = make_policy('partnner', 4, space=space())
    head_ms = frames_ms = 0.0
    for seq in range(600):
        k, _ = policy.choose()
        record = link.record(seq, k)
        if k < 4 and seq % 5 == 0:
            record = replace(record, e2e_ms=record.e2e_ms + 300.0)
        policy.observe(record)
        frames_ms += record.e2e_ms if seq >= 100 else 0.0
        probe = policy.probe_split()
        if policy.probe_every and seq % policy.probe_every == 0 and probe is not None and probe != k:
            policy.observe(link.record(seq, probe, probe=True))
            head_ms += EDGE_MS[:probe].sum() if k == 0 and seq >= 100 else 0.0
        policy.ping(link.rtt)
    assert k == 0 and head_ms > 0
    assert head_ms <= 0.05 * frames_ms


def test_static_policies_and_bad_input():
    assert make_policy('edge_only', 4).choose()[0] == 4
    assert make_policy('cloud_only', 4).choose()[0] == 0
    with pytest.raises(ValueError, match='split must be in'):
        Fixed(4, 0).set_split(5)
    with pytest.raises(ValueError, match='needs the split space'):
        make_policy('partnner', 4)


def test_partnner_ignores_failed_frames():
    policy = Partnner(space())
    policy.observe(FrameRecord(0, 2, Status.LOST, 1000, 5000.0, 80.0, 0.0, 80.0))
    assert not policy.edge.known and not policy.link.known


def test_partnner_leaves_a_server_whose_frames_time_out():
    """A server slowed past the robot's 2 s answer timeout answers too late to be measured: the lost
    frames themselves say it takes at least that long."""
    link = optimal_link(1000.0, 0)
    policy = Partnner(space())
    assert drive(policy, link, 30)[-1] == 0

    def lose(seq):
        policy.observe(FrameRecord(seq, 0, Status.LOST, e2e_ms=2005.0, error='no answer from the cloud within 2.0 s'))
        return policy.choose()

    assert lose(30)[0] == 0  # one lost frame is not yet a slower server
    split, reason = lose(31)
    assert split == 4 and reason.startswith('predicted')
    assert policy.cloud.predict(0, 4) > 1900


def test_partnner_counts_pre_and_postprocessing_where_they_run():
    """Non-maximum suppression on a slow robot: edge-only frames take 60 ms beyond the model, offloaded ones
    2 ms (the server postprocesses); the predictions add what the records said of each."""
    link = optimal_link(20.0, 3)
    told, untold = Partnner(space()), Partnner(space())
    for policy in (told, untold):
        drive(policy, link, 20)
    for seq in range(20, 26):
        k, extra = (4, 60.0) if seq % 2 else (0, 2.0)
        r = link.record(seq, k)
        untold.observe(r)
        told.observe(replace(r, e2e_ms=r.e2e_ms + extra, pre_post_ms=extra, edge_ms=r.edge_ms + extra * (k == 4),
                             cloud_ms=r.cloud_ms + extra * (k < 4)))
    assert told.predict() - untold.predict() == pytest.approx([2.0, 2.0, 2.0, 2.0, 60.0])


# --- simulator accounting ----------------------------------------------------------------------
def tiny_profile() -> SimProfile:
    """Two layers of 10 and 30 ms; 100 kB after layer 1, a 50 kB image at split 0."""
    sp = SplitSpace(2, (0, 1, 2), [1.0, 3.0], [100_000, 50_000, 0], codec='fp16', input_codec='jpeg')
    return SimProfile('tiny', sp, np.array([10.0, 30.0]), np.array([50_000.0, 100_000.0, 0.0]),
                      np.array([1.0, 2.0, 0.0]), np.array([0.5, 1.0, 0.0]), profile_seconds=3.0)


def tiny_scenario(**kw) -> Scenario:
    args = dict(profile=tiny_profile(), platform=Platform('p', edge_slowdown=2.0, cloud_speedup=4.0),
                trace=Trace.steps([8.0], 100.0), fps=2.0, delay_ms=5.0, noise=0.0, duration_s=5.0,
                result_bytes=1000)
    args.update(kw)
    return Scenario(**args)


def hand_latency(k: int) -> float:
    """edge x2 and encode x2, 8 Mbit/s each way plus 5 ms, cloud /4 and decode /4."""
    edge = [0 + 1.0, 10.0 + 2.0, 40.0][k] * 2
    upload = [50_000, 100_000, 0][k] * 8 / 8e6 * 1e3 + 5.0
    cloud = ([40.0, 30.0, 0][k] + [0.5, 1.0, 0][k]) / 4
    back = 1000 * 8 / 8e6 * 1e3 + 5.0
    return edge if k == 2 else edge + upload + cloud + back


@pytest.mark.parametrize('k', [0, 1, 2])
def test_simulated_latency_matches_a_hand_computed_schedule(k):
    run = simulate(tiny_scenario(), Fixed(2, k))
    assert len(run.latency) == 10 and run.dropped == 0  # 2 fps for 5 s, never busy
    assert run.latency == pytest.approx(np.full(10, hand_latency(k)))
    assert list(run.start) == pytest.approx([i / 2 for i in range(10)])


def test_a_busy_pipeline_takes_the_newest_frame_and_counts_the_skipped():
    # 25 fps (40 ms apart) against 80 ms of edge-only work: frame 0 at 0, then the
    # newest at 0.08 s is frame 2 (frame 1 skipped), waiting 0 ms, and so on; frame 9
    # (0.36 s) is skipped too, the pipeline being busy until the run ends
    run = simulate(tiny_scenario(fps=25.0, duration_s=0.4), Fixed(2, 2))
    assert list(run.start) == pytest.approx([0.0, 0.08, 0.16, 0.24, 0.32])
    assert list(run.arrival) == pytest.approx([0.0, 0.08, 0.16, 0.24, 0.32])
    assert run.dropped == 5
    assert run.latency == pytest.approx(np.full(5, 80.0))


def test_transfers_are_charged_at_the_rate_while_in_transit():
    # 100 kB at split 1 starts after 24 ms at 8 Mbit/s; the link drops to 0.8 Mbit/s at 0.05 s:
    # 26 ms carry 208 kbit, the remaining 592 kbit take 740 ms
    trace = Trace([0.0, 0.05, 10.0], [8.0, 0.8, 0.8])
    run = simulate(tiny_scenario(trace=trace, duration_s=0.1), Fixed(2, 1))
    upload = 26 + 740
    back = 1000 * 8 / 0.8e6 * 1e3
    assert run.latency[0] == pytest.approx(24 + upload + 5 + 31 / 4 + back + 5, rel=1e-6)


def test_all_fixed_splits_at_once_match_one_at_a_time():
    sc = tiny_scenario(trace=Trace.steps([40.0, 0.2, 3.0], 3.0), duration_s=9.0, fps=20.0, noise=0.1,
                       cloud_load=Steps(((0.0, 1.0), (4.0, 5.0))))
    for k, lane in zip((0, 1, 2), simulate_fixed(sc, (0, 1, 2))):
        one = simulate(sc, Fixed(2, k))
        assert lane.dropped == one.dropped and len(lane.latency) == len(one.latency)
        for field in ('start', 'arrival', 'split', 'latency', 'oracle_split', 'equivalent'):
            assert getattr(lane, field) == pytest.approx(getattr(one, field)), (k, field)


def test_oracle_is_the_per_frame_minimum_and_bounds_every_policy():
    sc = tiny_scenario(trace=Trace.steps([40.0, 0.2, 40.0], 10.0), duration_s=30.0)
    truth = Truth(sc)
    runs = run_all(sc)
    oracle = runs['oracle']
    for i, s in enumerate(oracle.start):
        assert oracle.split[i] == int(np.argmin(truth.costs(int(round(s * sc.fps)), s)[0]))
    for name, run in runs.items():
        assert run.mean >= oracle.mean * 0.999, name
    assert set(oracle.split) == {0, 2}  # cloud-only on the fast link, edge-only on the slow one


def test_partnner_follows_a_slower_link_and_a_loaded_server_within_frames():
    # cloud-only, edge-only once the link is slow, cloud-only again when it recovers, and edge-only once
    # the server is loaded 40x: retreats are seen by the frames themselves
    sc = tiny_scenario(trace=Trace.steps([40.0, 0.2, 40.0], 20.0), duration_s=60.0, fps=10.0,
                       cloud_load=Steps(((0.0, 1.0), (50.0, 40.0))))
    runs = run_all(sc, ('partnner',))
    events = sc.change_times()
    assert events == pytest.approx([20.0, 40.0, 50.0], abs=0.6)
    assert [runs['oracle'].split[np.searchsorted(runs['oracle'].start, t + 1)] for t in events] == [2, 0, 2]
    (_, down, _, down_censored), _, (_, loaded, _, loaded_censored) = convergence(runs['partnner'], events)
    assert not down_censored and down <= 5 and not loaded_censored and loaded <= 5


def test_partnner_finds_a_recovered_link_within_its_probe_budget():
    """At edge-only, only shadow probes see the link come back, and they may use 5% of it: the image
    (400 kbit) on a 2 Mbit/s link, with a frame every 100 ms, is one probe in 64 frames at most."""
    sc = tiny_scenario(trace=Trace.steps([40.0, 2.0, 40.0], 30.0), duration_s=90.0, fps=10.0)
    runs = run_all(sc, ('partnner',))
    assert [runs['oracle'].split[np.searchsorted(runs['oracle'].start, t + 1)] for t in (10, 40, 70)] == [0, 2, 0]
    (_, down, _, _), (_, up, up_seconds, censored) = convergence(runs['partnner'], [30.0, 60.0])
    assert down <= 8 and not censored and up <= 2 * 64 + 5, (down, up, up_seconds)
    run = runs['partnner']
    assert run.probe_uplink_share <= 0.05 and run.probe_server_share <= 0.05


def test_neurosurgeon_pays_for_reprofiling_after_a_load_change():
    sc = tiny_scenario(trace=Trace.steps([40.0], 60.0), duration_s=50.0, fps=10.0,
                       cloud_load=Steps(((0.0, 1.0), (10.0, 40.0))))
    runs = run_all(sc, ('partnner', 'neurosurgeon'))
    (_, ns_frames, ns_seconds, ns_censored), = convergence(runs['neurosurgeon'], [10.0])
    (_, p_frames, _, _), = convergence(runs['partnner'], [10.0])
    # profile_seconds 3 s, re-run on a server now 40x/4 = 10x slower than profiled
    assert not ns_censored and 30.0 <= ns_seconds <= 31.0
    assert p_frames < ns_frames
