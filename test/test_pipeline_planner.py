"""Pipeline planning over several devices, without ROS: branch-and-bound against
exhaustive search, the dynamic programme, memory and energy limits, the acceleration
region on hand-made cases, the paper's benchmark clusters and the plan command."""

import json
import math
from pathlib import Path

import numpy as np
import pytest

from partnner_ros.commands.plan_bench import BenchConfig, markdown, paper_cluster, run_bench
from partnner_ros.core.multidevice.acceleration import acceleration_region
from partnner_ros.core.multidevice.branch_and_bound import branch_and_bound
from partnner_ros.core.multidevice.cluster import Cluster, Device
from partnner_ros.core.multidevice.costs import MB, ModelCosts, layer_param_bytes
from partnner_ros.core.multidevice.plan import evaluate
from partnner_ros.core.multidevice.search import dynamic_programming, exhaustive, greedy, random_plan

CONFIG = Path(__file__).resolve().parent.parent / 'config'


def costs(work, params=None, peaks=None, transfer=None, name='toy'):
    """A hand-made model: per-layer seconds, parameter and peak bytes, bytes per cut (nan: unusable)."""
    n = len(work)
    return ModelCosts(name, work, params if params is not None else [0.0] * n,
                      peaks if peaks is not None else [0.0] * n,
                      transfer if transfer is not None else [0.0] * n + [0.0], tuple(f'l{i}' for i in range(n)))


def cluster(speeds, bandwidth_bps, memory=None, source=None, power=None, budget=None):
    k = len(speeds)
    devices = [Device(f'd{i}', speeds[i], math.inf if memory is None else memory[i],
                      0.0 if power is None else power[i], math.inf if budget is None else budget[i]) for i in range(k)]
    bw = np.full((k, k), float(bandwidth_bps)) if np.isscalar(bandwidth_bps) else np.asarray(bandwidth_bps, float)
    np.fill_diagonal(bw, 0.0)
    return Cluster(devices, bw, source)


def random_instance(rng):
    n = int(rng.integers(1, 9))
    transfer = rng.uniform(1e3, 1e6, n + 1)
    transfer[n] = 0.0
    transfer[1:n][rng.random(n - 1) < 0.25] = np.nan  # some cuts are unusable
    params = rng.uniform(0, 50, n) * MB
    model = costs(rng.uniform(0.01, 0.2, n), params, rng.uniform(0, 10, n) * MB, transfer)
    k = int(rng.integers(1, 5))
    bw = rng.uniform(1e6, 1e8, (k, k))
    bw[rng.random((k, k)) < 0.15] = 0.0  # some pairs have no link
    power = rng.uniform(1, 10, k)
    budget = np.where(rng.random(k) < 0.3, rng.uniform(0.05, 1.0, k), np.inf)
    memory = rng.uniform(0.2, 1.2, k) * (params.sum() + 10 * MB)
    source = int(rng.integers(k)) if rng.random() < 0.5 else None
    return model, cluster(rng.uniform(0.3, 3.0, k), bw, memory, source, power, budget)


# --- exactness ----------------------------------------------------------------------------------
def test_branch_and_bound_matches_exhaustive_search_on_random_small_instances():
    rng = np.random.default_rng(6)
    kinds = set()
    for _ in range(300):
        model, devices = random_instance(rng)
        exact, bnb = exhaustive(model, devices), branch_and_bound(model, devices)
        if exact.plan is None:
            assert bnb.plan is None and bnb.reason
            kinds.add('infeasible')
            continue
        assert bnb.plan is not None and bnb.optimal and bnb.plan.feasible
        assert bnb.plan.bottleneck_s == pytest.approx(exact.plan.bottleneck_s, rel=1e-9)
        assert bnb.lower_bound_s == pytest.approx(bnb.plan.bottleneck_s, rel=1e-9)
        kinds.add(f'{len(exact.plan.stages)} stages')
    assert {'infeasible', '1 stages', '2 stages', '3 stages'} <= kinds, kinds


def test_dynamic_programme_is_exact_for_its_device_order_and_never_beats_branch_and_bound():
    rng = np.random.default_rng(7)
    for _ in range(200):
        model, devices = random_instance(rng)
        order = list(rng.permutation(len(devices.devices)))
        dp, in_order = dynamic_programming(model, devices, order), exhaustive(model, devices, order)
        assert (dp.plan is None) == (in_order.plan is None)
        if dp.plan is not None:
            assert dp.plan.bottleneck_s == pytest.approx(in_order.plan.bottleneck_s, rel=1e-9)
            assert dp.plan.feasible
            positions = [order.index(s.device) for s in dp.plan.stages]
            assert positions == sorted(positions)
            assert dp.plan.bottleneck_s >= branch_and_bound(model, devices).plan.bottleneck_s * (1 - 1e-9)


def test_baselines_give_feasible_plans_no_better_than_the_optimum():
    rng = np.random.default_rng(8)
    for _ in range(100):
        model, devices = random_instance(rng)
        best = branch_and_bound(model, devices).plan
        for sol in (greedy(model, devices), random_plan(model, devices, rng)):
            if sol.plan is not None:
                assert sol.plan.feasible and best is not None
                assert sol.plan.bottleneck_s >= best.bottleneck_s * (1 - 1e-9)
            else:
                assert sol.reason


def test_greedy_fills_each_device_to_capacity_and_follows_the_widest_link():
    model = costs([0.1] * 6, params=[10 * MB] * 6, transfer=[1e5] * 6 + [0.0])
    # no source: start on d1, the most memory (4 layers); the widest link from d1 leads to d2
    devices = cluster([1, 1, 1], [[0, 1e6, 5e6], [1e6, 0, 2e6], [5e6, 2e6, 0]], memory=[25 * MB, 45 * MB, 35 * MB])
    sol = greedy(model, devices)
    assert [(s.device, s.start, s.stop) for s in sol.plan.stages] == [(1, 0, 4), (2, 4, 6)]
    devices.source = 0
    sol = greedy(model, devices)  # from the source d0 (2 layers) over its widest link to d2 (3), then d1
    assert [(s.device, s.start, s.stop) for s in sol.plan.stages] == [(0, 0, 2), (2, 2, 5), (1, 5, 6)]


def test_random_plans_are_seeded():
    rng = np.random.default_rng(9)
    model, devices = random_instance(rng)
    while random_plan(model, devices, np.random.default_rng(0)).plan is None:
        model, devices = random_instance(rng)
    a = random_plan(model, devices, np.random.default_rng(1)).plan
    assert a == random_plan(model, devices, np.random.default_rng(1)).plan


# --- constraints --------------------------------------------------------------------------------
def test_memory_is_respected_and_an_impossible_model_says_why():
    model = costs([0.1] * 4, params=[40 * MB] * 4, peaks=[5 * MB] * 4, transfer=[1e5, 1e5, np.nan, 1e5, 0.0])
    devices = cluster([4.0, 1.0, 1.0], 1e8, memory=[60 * MB, 100 * MB, 90 * MB])
    for sol in (branch_and_bound(model, devices), dynamic_programming(model, devices), greedy(model, devices),
                random_plan(model, devices, np.random.default_rng(0)), exhaustive(model, devices)):
        assert sol.plan.feasible, sol.algo
        for stage in sol.plan.stages:
            assert stage.memory_bytes <= devices.devices[stage.device].memory_bytes
            assert stage.start != 2  # cut 2 is unusable
    # layers 1..2 (85 MB, cut 2 unusable) fit only d1 or d2; no device holds three layers
    best = branch_and_bound(model, devices).plan
    assert [(s.start, s.stop) for s in best.stages] == [(0, 1), (1, 3), (3, 4)]
    assert best.stages[1].device != 0 and best.bottleneck_s == pytest.approx(0.2)

    too_small = cluster([1.0, 1.0], 1e8, memory=[80 * MB, 80 * MB])
    for sol in (branch_and_bound(model, too_small), dynamic_programming(model, too_small), greedy(model, too_small),
                random_plan(model, too_small, np.random.default_rng(0))):
        assert sol.plan is None and sol.reason, sol.algo
    reason = branch_and_bound(model, too_small).reason
    assert 'layers 1..2' in reason and '85.0 MB' in reason and 'more than any device' in reason
    reason = branch_and_bound(model, cluster([1.0] * 2, 1e8, memory=[85 * MB, 70 * MB])).reason
    assert 'parameters need 160.0 MB, the devices hold 155.0 MB' in reason


def test_energy_budget_is_respected():
    model = costs([0.1] * 4, transfer=[1e4] * 4 + [0.0])
    # d0 is fast but may spend 0.3 J per frame at 10 W: 30 ms of compute, one layer (25 ms) at speed 4
    devices = cluster([4.0, 1.0], 1e9, power=[10.0, 1.0], budget=[0.3, math.inf])
    sol = branch_and_bound(model, devices)
    assert sol.plan.feasible and exhaustive(model, devices).plan.bottleneck_s == pytest.approx(sol.plan.bottleneck_s)
    for stage in sol.plan.stages:
        assert stage.energy_j <= devices.devices[stage.device].energy_budget_j
    d0 = [s for s in sol.plan.stages if s.device == 0]
    assert d0 and d0[0].stop - d0[0].start == 1 and d0[0].energy_j == pytest.approx(0.25)
    everything_on_d0 = evaluate(model, devices, [(0, 0, 4)])
    assert not everything_on_d0.feasible and 'budget' in everything_on_d0.violations[0]


def test_time_limit_returns_the_incumbent_with_a_proven_bound():
    # two devices with a very fast link between them make the relaxed bound weak: the best
    # completion would bounce between them, while the model needs ten distinct devices
    rng = np.random.default_rng(10)
    n = 60
    model = costs(np.full(n, 0.001), params=np.full(n, 2 * MB), transfer=np.r_[rng.uniform(1e5, 1e6, n), 0])
    bw = rng.uniform(1e7, 2e7, (30, 30))
    bw[0, 1] = bw[1, 0] = 1e10
    devices = cluster(np.ones(30), bw, memory=np.full(30, 21 * MB))
    short = branch_and_bound(model, devices, time_limit=0.2)
    assert short.plan.feasible and not short.optimal and short.seconds < 2
    assert 0 < short.lower_bound_s < short.plan.bottleneck_s and short.gap > 0
    longer = branch_and_bound(model, devices, time_limit=2.0)
    assert short.lower_bound_s <= longer.plan.bottleneck_s <= short.plan.bottleneck_s
    assert longer.lower_bound_s >= short.lower_bound_s


# --- the acceleration region --------------------------------------------------------------------
def test_no_split_helps_when_the_link_is_slow():
    model = costs([0.05] * 4, transfer=[6e5, 4e5, 2e5, 1e5, 0.0])  # 200 ms on d0
    devices = cluster([1.0, 0.5], 1e6)  # a 1 Mbit/s link: 100 kB take 800 ms
    acc = acceleration_region(model, devices)
    assert not acc.helps and acc.speedup == pytest.approx(1.0)
    assert acc.best.stages[0].device == 0 and len(acc.best.stages) == 1
    assert 'no split beats running everything on d0' in acc.verdict


def test_two_equal_devices_on_a_fast_link_nearly_double_the_throughput():
    model = costs([0.05] * 4, transfer=[6e5, 4e5, 2e5, 1e5, 0.0])
    acc = acceleration_region(model, cluster([1.0, 1.0], 1e10))
    assert acc.helps and acc.speedup == pytest.approx(2.0, rel=0.01)
    assert [(s.start, s.stop) for s in acc.best.stages] == [(0, 2), (2, 4)]
    assert 'splitting helps: 2.00x' in acc.verdict


def test_the_input_from_a_robot_counts_as_a_link():
    model = costs([0.05] * 4, transfer=[6e5, 4e5, 2e5, 1e5, 0.0])
    # the robot has the camera; the server is 10x faster (20 ms for the model)
    devices = cluster([1.0, 10.0], 1e9, source=0)
    acc = acceleration_region(model, devices)  # the image takes 4.8 ms: send it
    assert not acc.helps and acc.single.stages[0].device_name == 'd1'
    assert acc.best.bottleneck_s == pytest.approx(0.02)
    devices.bandwidth_bps[:] = 5e7  # 96 ms for the image, 64 ms for the tensor at cut 1
    acc = acceleration_region(model, devices)
    assert acc.single.bottleneck_s == pytest.approx(0.096)
    assert acc.helps and [(s.device, s.stop) for s in acc.best.stages] == [(0, 1), (1, 4)]
    assert acc.best.bottleneck_s == pytest.approx(0.064) and acc.speedup == pytest.approx(1.5)


def test_a_model_too_big_for_any_device_needs_a_split():
    model = costs([0.05] * 4, params=[30 * MB] * 4, transfer=[1e5] * 4 + [0.0])
    acc = acceleration_region(model, cluster([1.0, 1.0, 1.0], 1e8, memory=[70 * MB] * 3))
    assert acc.single is None and acc.helps and acc.speedup == math.inf
    assert 'fits on no single device' in acc.verdict and acc.best.bottleneck_s == pytest.approx(0.1)


# --- real models --------------------------------------------------------------------------------
def test_costs_of_a_real_model(get_model):
    model = get_model('resnet18')
    params = layer_param_bytes(model)
    assert params.sum() == sum(p.numel() * 4 for p in model.module.parameters()) + sum(
        b.numel() * b.element_size() for b in model.module.buffers())
    assert params.sum() == pytest.approx(46.7 * MB, rel=0.01)
    c = ModelCosts.from_model(model)
    assert list(c.cuts) == model.splits
    assert c.transfer_bytes[0] == 3 * 224 * 224 * 4 and c.transfer_bytes[-1] == 0
    # every layer holds at least its output, and its input when the cut before it is usable
    for i, f in enumerate(model.layer_facts):
        assert c.peak_bytes[i] >= 4 * math.prod(f.out_shape)
        if i in model.cut_facts:
            assert c.peak_bytes[i] >= 4 * model.cut_facts[i].elements


def test_paper_clusters():
    rng = np.random.default_rng(0)
    c = paper_cluster(50, rng)
    mem = np.array([d.memory_bytes for d in c.devices]) / MB
    assert mem.min() >= 64 and mem.max() <= 512 and mem.std() > 50
    bw = c.bandwidth_bps / 1e6
    off = bw[~np.eye(50, dtype=bool)]
    assert np.allclose(bw, bw.T) and np.all(np.diag(bw) == 0)
    assert off.min() >= np.log2(1 + 283230 / (2 * 150 ** 2)) - 1e-9  # the far corners of the area
    same = paper_cluster(20, np.random.default_rng(1), regime='smallest')
    assert len({d.memory_bytes for d in same.devices}) == 1


def test_bench_on_paper_sized_clusters_compares_the_planners(get_model):
    model = ModelCosts.from_model(get_model('resnet18'))
    result = run_bench(BenchConfig({'resnet18': model}, nodes=(5, 50), trials=3, time_limit=20.0))
    assert len(result['rows']) == 4
    for row in result['rows']:
        assert row['feasible'] == 3 and row['bnb_time_limited'] == 0
        assert row['random_over_bnb'] >= 1 and row['greedy_over_bnb'] >= 1
        assert row['bnb_solve_ms_max'] < 20_000
    table = markdown(result)
    assert '| resnet18 | 50 | 3/3 |' in table and '## memory: smallest' in table


# --- the plan command ---------------------------------------------------------------------------
def test_plan_command_on_the_example_devices(tmp_path, capsys):
    from partnner_ros.cli import main
    spec = CONFIG / 'devices_example.yaml'
    assert main(['plan', '--model', 'resnet18', '--devices', str(spec), '--profile-cache', str(tmp_path),
                 '--json']) == 0
    out = json.loads(capsys.readouterr().out, parse_constant=lambda c: pytest.fail(f'{c} is not JSON'))
    assert out['model'] == 'resnet18' and [d['name'] for d in out['devices']] == ['robot', 'jetson', 'laptop']
    assert set(out['plans']) == {'bnb', 'dp', 'greedy', 'random'}
    bnb = out['plans']['bnb']
    assert bnb['optimal'] and bnb['plan']['feasible']
    assert bnb['plan']['throughput_fps'] == pytest.approx(1e3 / bnb['plan']['bottleneck_ms'])
    for sol in out['plans'].values():
        if sol['plan']:
            assert sol['plan']['bottleneck_ms'] >= bnb['plan']['bottleneck_ms'] * (1 - 1e-9)
            assert sol['plan']['stages'][0]['layers'][0] == 0 and sol['plan']['stages'][-1]['layers'][1] == 50
    assert isinstance(out['acceleration']['helps'], bool) and out['acceleration']['verdict']
    assert (tmp_path / 'resnet18.json').exists()  # the profile was cached

    assert main(['plan', '--model', 'resnet18', '--devices', str(spec), '--profile-cache', str(tmp_path),
                 '--algo', 'greedy']) == 0
    text = capsys.readouterr().out
    assert 'greedy' in text and 'bottleneck' in text and 'stage 1' in text and 'acceleration' in text

    bad = tmp_path / 'bad.yaml'
    bad.write_text('devices:\n  - {name: a, memory_mb: 1}\n')
    assert main(['plan', '--model', 'resnet18', '--devices', str(bad), '--profile-cache', str(tmp_path)]) == 1
    assert 'no feasible plan' in capsys.readouterr().out
