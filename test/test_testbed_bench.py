"""Smoke run of ``partnner bench``: two policies on a link that starts near 0 Mbit/s (the nodes must
start on a nominal link all the same) and then steps 20 -> 2 Mbit/s, with the real nodes in two
namespaces over a shaped link and the robot under a CPU quota (root only; skipped otherwise)."""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from partnner_ros.testbed import bench

TAG = 'pytestb'


def leftovers() -> list[str]:
    found = [line for line in subprocess.run(['ip', 'netns', 'list'], capture_output=True, text=True).stdout.split('\n')
             if f'partnner-{TAG}' in line]
    for root in (Path('/sys/fs/cgroup'), Path('/sys/fs/cgroup/cpu')):
        found += [str(p) for p in root.glob(f'partnner-{TAG}-*')]
    return found


@pytest.mark.skipif(bench.unavailable() is not None, reason=f'needs root: {bench.unavailable()}')
def test_bench_runs_two_policies_through_a_bandwidth_step_and_leaves_nothing(tmp_path):
    out = tmp_path / 'bench'
    bench_run = subprocess.Popen(
        [sys.executable, '-P', '-m', 'partnner_ros', 'bench', '--trace', 'steps:0.05,20,20,2,2,2@2', '--duration', '12',
         '--fps', '4', '--model', 'resnet18', '--policies', 'partnner,neurosurgeon', '--oracle', 'none',
         '--tag', TAG, '--out', str(out)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        _, stderr = bench_run.communicate(timeout=600)
    except subprocess.TimeoutExpired:
        bench_run.terminate()  # the bench tears its namespaces and cgroups down on SIGTERM
        _, stderr = bench_run.communicate(timeout=60)
        pytest.fail(f'the bench took over 10 minutes: {stderr[-3000:]}')
    assert bench_run.returncode == 0, stderr[-3000:]
    assert leftovers() == []
    data = json.loads((out / 'report.json').read_text())
    assert set(data['runs']) == {'partnner', 'neurosurgeon'}
    assert 5 <= data['calibration']['ratio'] <= 20
    for label, run in data['runs'].items():
        a = run['accounting']
        # every camera frame has an outcome: a result, a counted stale drop, or lost in the first 2 s
        assert a['frames_in'] >= 40, (label, a)
        assert a['ok'] + a['dropped'] + a['lost'] == a['frames_in'] and a['lost'] <= 8, (label, a)
        assert a['ok'] >= 5 and run['mean_ms'] > 0
        folder = out / 'runs' / label
        for name in ('frames.csv', 'images.csv', 'states.csv', 'summary.md', 'timeline.png'):
            assert (folder / name).stat().st_size > 0, (label, name)
        applied = json.loads((folder / 'run.json').read_text())['applied']
        first, up, down = ([t for t, what in applied if what == f'link {mbps} Mbit/s']
                           for mbps in ('0.050', '20.000', '2.000'))
        assert first[0] <= 0.5 and 1.9 <= up[0] <= 2.5 and 5.9 <= down[0] <= 6.5, applied
    assert 'neurosurgeon' in (out / 'report.md').read_text()


@pytest.mark.skipif(os.geteuid() != 0 or shutil.which('setpriv') is None, reason='needs root to drop it')
def test_bench_without_root_says_so(tmp_path):
    done = subprocess.run(['setpriv', '--reuid=65534', '--regid=65534', '--clear-groups', sys.executable, '-P', '-m',
                           'partnner_ros', 'bench', '--trace', 'steps:20@6', '--out', str(tmp_path)],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 2
    assert 'needs root' in done.stderr
