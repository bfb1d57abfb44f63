"""Many robots sharing a server, without ROS: batching, the server's load and price, the fleet
simulator, its offline optimum, and batched inference on a real model."""

import json

import numpy as np
import pytest
import torch
from test_adaptive import tiny_profile

from partnner_ros.core.adaptation.partnner import Partnner
from partnner_ros.core.fleet.batching import BatchQueue
from partnner_ros.core.fleet.load import ServerLoad
from partnner_ros.core.fleet.optimum import exhaustive, optimum, pareto_options
from partnner_ros.core.fleet.simulator import Server, simulate_fleet
from partnner_ros.core.simulation.generated import generate
from partnner_ros.core.simulation.scenario import Platform, Scenario


# --- batching ------------------------------------------------------------------------------------
def test_a_batch_is_the_oldest_request_and_later_ones_at_its_split_once_full():
    q = BatchQueue(max_batch=2, max_wait_s=0.01)
    for i, (key, t) in enumerate([(5, 0.0), (3, 0.001), (5, 0.002), (5, 0.003)]):
        q.push(i, key, t)
    batch, wake = q.take(0.004)
    assert [r.item for r in batch] == [0, 2] and wake is None  # full: split 5's first two
    batch, wake = q.take(0.004)
    assert batch == [] and wake == pytest.approx(0.011)  # split 3 alone waits for company
    batch, _ = q.take(0.011)
    assert [r.item for r in batch] == [1]
    assert [r.item for r in q.take(0.02)[0]] == [3] and len(q) == 0
    assert q.take(1.0) == ([], None)


def test_shadow_probes_wait_behind_every_real_request():
    q = BatchQueue(max_batch=4, max_wait_s=0.0)
    q.push('probe', 0, 0.0, probe=True)
    q.push('frame', 7, 0.1)
    q.push('probe2', 0, 0.2, probe=True)
    assert [r.item for r in q.take(0.3)[0]] == ['frame']
    assert [r.item for r in q.take(0.3)[0]] == ['probe', 'probe2']


def test_a_full_batch_queue_drops_its_oldest_request():
    q = BatchQueue(max_batch=4, max_wait_s=0.0, capacity=2)
    assert q.push('a', 0, 0.0) is None and q.push('b', 0, 0.1) is None
    assert q.push('c', 0, 0.2).item == 'a'
    assert [r.item for r in q.drain()] == ['b', 'c'] and len(q) == 0


@pytest.mark.parametrize('bad', [dict(max_batch=0), dict(max_wait_s=-1.0), dict(capacity=0)])
def test_a_batch_queue_refuses_bad_limits(bad):
    with pytest.raises(ValueError):
        BatchQueue(**bad)


# --- the server's load and price -------------------------------------------------------------------
def test_the_price_grows_while_requests_wait_long_and_falls_to_its_floor_when_idle():
    load = ServerLoad(target=1.0, rate=0.5, start=1.0)
    t = 0.0
    for _ in range(10):  # 100 ms batches back to back, each request waiting 300 ms: three batches
        load.served(t, t + 0.1, [(300.0, 'a'), (300.0, 'b')])
        t += 0.1
        state = load.update(t, queue_depth=6)
    # excess wait 300/100 - 1 = 2, capped at 1: up e^(0.5 x 1) per second, for 0.9 s of updates
    assert state.price == pytest.approx(np.exp(0.5 * 0.9), rel=1e-6)
    assert state.utilisation == pytest.approx(1.0) and state.wait_ms == pytest.approx(300.0)
    assert state.robots == 2 and state.queue_depth == 6
    for _ in range(200):  # idle for 20 s: falls e^-0.5 per second, to the floor
        t += 0.1
        state = load.update(t, queue_depth=0)
    assert state.price == pytest.approx(load.floor) and state.utilisation == 0.0 and state.robots == 0


def test_partnner_charges_a_shared_server_its_wait_and_price():
    from test_adaptive import space
    policy = Partnner(space())
    policy.edge.scale.update(160.0)
    policy.cloud.scale.update(16.0)
    for _ in range(5):
        policy.link.observe(10_000, 10.0 + 10_000 * 8 / 1e7 * 1e3)
    before = policy.predict()
    policy.server_load(50.0, 2.0)
    after = policy.predict()
    n = policy.num_layers
    assert after[n] == before[n]  # edge-only uses no server
    scale = policy._price_scale
    assert 0.5 <= scale <= 2.0
    cloud = (1 - policy.cloud.cumulative()[:n]) * 16.0
    assert after[:n] - before[:n] == pytest.approx(50.0 + 2.0 * scale * cloud, rel=1e-6)


# --- the fleet simulator -------------------------------------------------------------------------------
def fleet(robots: int, seconds: float = 20.0) -> list[Scenario]:
    """Robots 10x slower than the profile (400 ms edge-only), each on its own 8 Mbit/s bursty link."""
    return [Scenario(tiny_profile(), Platform('p', 10.0), generate('lognormal', 0.5, 8.0, seed=i, seconds=seconds),
                     fps=10.0, seed=i, duration_s=seconds) for i in range(robots)]


def test_a_fleet_run_accounts_for_every_robot_and_the_server():
    scenarios = fleet(3, seconds=10.0)
    edge = simulate_fleet(scenarios, 'edge_only', Server(), 10.0)
    cloud = simulate_fleet(scenarios, 'cloud_only', Server(speed=0.5, max_batch=4), 10.0)
    assert edge.utilisation == 0.0 and len(edge.batch_sizes) == 0
    assert all(set(r.split) == {2} for r in edge.robots)
    for r in edge.robots:  # one frame at a time, every 100 ms camera frame either served or skipped
        assert len(r.latency) + r.dropped == pytest.approx(10.0 * 10.0, abs=2)
    assert all(set(r.split) == {0} for r in cloud.robots)
    # three robots sending 80 ms of work each per frame to a server at half speed: it is the bottleneck
    assert cloud.utilisation > 0.95 and cloud.batch_sizes.max() > 1
    assert sum(len(r.latency) for r in cloud.robots) <= 10.0 * 1000 / 80.0 * 1.2 / 0.5 * 0.5 + 3
    with pytest.raises(ValueError):
        simulate_fleet(scenarios, 'greedy')


def test_the_search_finds_the_exhaustive_optimum_of_a_small_fleet():
    scenarios = fleet(3)
    front, latency, work = pareto_options(scenarios[0])
    assert front == [2, 1, 0] and list(work) == sorted(work) and list(latency) == sorted(latency, reverse=True)
    server = Server(speed=0.2)  # too slow for all three: the optimum mixes edge and cloud
    best, run = optimum(scenarios, server, 20.0)
    exact, exact_run = exhaustive(scenarios, server, 20.0)
    assert run.mean == pytest.approx(exact_run.mean, rel=0.01)
    assert 0 < best.count(0) < 3


def test_coordinated_partnner_beats_every_uncoordinated_mode_and_is_fair():
    scenarios, server = fleet(12), Server(speed=1.0)
    runs = {mode: simulate_fleet(scenarios, mode, server, 20.0)
            for mode in ('edge_only', 'cloud_only', 'uncoordinated', 'partnner')}
    _, best = optimum(scenarios, server, 20.0)
    mean = {mode: r.mean for mode, r in runs.items()}
    assert mean['partnner'] < min(mean['edge_only'], mean['cloud_only'], mean['uncoordinated']) * 0.95, mean
    assert mean['partnner'] <= 1.15 * best.mean, (mean, best.mean)
    assert runs['partnner'].jain >= 0.9


# --- batched inference on a real model ------------------------------------------------------------
def test_a_batched_tail_equals_the_unbatched_ones_bit_for_bit(get_model):
    """The cloud batches requests that resume at one layer: on this CPU, fp32, that changes no bit."""
    model = get_model('yolov8n')
    torch.manual_seed(0)
    k = model.num_layers // 2
    with torch.no_grad():
        lives = [model.head(torch.rand(model.input_shape), k) for _ in range(4)]
        alone = [model.tail(live, k) for live in lives]
        stacked = model.tail([torch.cat(parts) for parts in zip(*lives)], k)
    flat = stacked[0] if isinstance(stacked, (list, tuple)) else stacked
    for i, out in enumerate(alone):
        single = out[0] if isinstance(out, (list, tuple)) else out
        assert torch.equal(flat[i:i + 1], single)


# --- several servers -----------------------------------------------------------------------------
def test_a_robot_takes_the_cheapest_server_moves_only_when_clearly_better_and_leaves_a_dead_one():
    from partnner_ros.core.fleet.servers import ServerChoice, ServerHeard
    choice = ServerChoice(timeout_s=0.75, gain=0.1, margin_ms=5.0, dwell_s=2.0)  # dwells 2..6 s
    assert choice.choose(0.0, 50.0) is None  # nothing heard yet
    choice.heartbeat('a', ServerHeard(0.0, wait_ms=30.0, price=0.0, ms_per_gweight=10.0))
    choice.heartbeat('b', ServerHeard(0.0, wait_ms=0.0, price=0.0, ms_per_gweight=10.0))
    assert choice.choose(0.1, 50.0) == 'b' and choice.moves == 0
    # a is now a little faster, but cheaper by less than the hysteresis: stay
    choice.heartbeat('a', ServerHeard(6.0, wait_ms=0.0, price=0.0, ms_per_gweight=9.0))
    choice.heartbeat('b', ServerHeard(6.0, wait_ms=0.0, price=0.0, ms_per_gweight=10.0))
    assert choice.choose(6.2, 50.0) == 'b'
    # b gets a price: 50 x 1.5 = 75 ms against a's 45, clearly better, and the dwell is over
    choice.heartbeat('b', ServerHeard(6.2, wait_ms=0.0, price=0.5, ms_per_gweight=10.0))
    assert choice.cost_ms('a', 50.0) == pytest.approx(45.0) and choice.cost_ms('b', 50.0) == pytest.approx(75.0)
    assert choice.choose(6.2, 50.0) == 'a' and choice.moves == 1
    choice.heartbeat('b', ServerHeard(6.3, wait_ms=0.0, price=0.0, ms_per_gweight=5.0))
    assert choice.choose(6.3, 50.0) == 'a'  # b is cheaper now, but the robot has just moved
    # a falls silent: dead 0.75 s after its last heartbeat (6.0), and the robot leaves at once
    choice.heartbeat('b', ServerHeard(6.5, wait_ms=0.0, price=0.0, ms_per_gweight=10.0))
    assert choice.alive(6.5) == ['a', 'b'] and choice.choose(6.5, 50.0) == 'a'
    assert choice.alive(6.8) == ['b']
    assert choice.choose(6.8, 50.0) == 'b' and choice.moves == 2


def test_a_server_of_another_model_is_never_chosen():
    from partnner_ros.core.fleet.servers import ServerChoice, ServerHeard
    choice = ServerChoice()
    choice.heartbeat('a', ServerHeard(0.0, fingerprint='other'))
    choice.heartbeat('b', ServerHeard(0.0, wait_ms=500.0, fingerprint='mine'))
    assert choice.choose(0.1, 10.0, fingerprint='mine') == 'b'


def test_when_a_server_dies_its_robots_move_to_another_within_two_seconds_and_every_frame_is_counted():
    scenarios = fleet(6)
    servers = [Server(speed=0.5, fails_at_s=8.0), Server(speed=0.5)]
    for mode in ('partnner', 'uncoordinated', 'cloud_only'):
        run = simulate_fleet(scenarios, mode, servers, 20.0)
        assert run.server_utilisation[0] < run.server_utilisation[1]  # the first served only until it died
        for robot in run.robots:
            # every camera frame of the run: answered, lost with the dead server, or replaced by a newer one
            assert len(robot.latency) + robot.lost + robot.dropped == 200, (mode, robot.name)
            assert robot.lost <= 1  # at most the one frame in flight when the server died
            served_after = robot.start[robot.start >= 8.0]
            assert len(served_after) and served_after[0] - 8.0 <= 2.0, (mode, robot.name)
        assert sum(r.moves for r in run.robots) >= 3  # the dead server's robots, at least


def test_the_fleet_report_has_the_table_and_a_figure_per_mode(tmp_path):
    from partnner_ros.commands.fleet import fleet_rows, format_rows
    from partnner_ros.commands.fleet_report import write_report
    scenarios = fleet(3, seconds=5.0)
    runs = {mode: simulate_fleet(scenarios, mode, [Server(), Server()], 5.0) for mode in ('edge_only', 'partnner')}
    rows = fleet_rows(runs)
    assert set(runs['partnner'].server_trace) == {'server1', 'server2'}
    assert len(runs['partnner'].server_trace['server1']) >= 45  # a heartbeat every 100 ms
    report = write_report(tmp_path / 'fleet', 'three robots', rows, runs, format_rows(rows))
    text = report.read_text()
    assert 'three robots' in text and 'partnner' in text and '![edge_only](edge_only.png)' in text
    assert (tmp_path / 'fleet' / 'partnner.png').stat().st_size > 10_000
    assert set(json.loads((tmp_path / 'fleet' / 'report.json').read_text())['modes']) == {'edge_only', 'partnner'}
