"""partnner pipeline: a 3-stage plan run as node processes, each held to its device's
speed (root), with throughput measured against the plan's prediction."""

import json
import subprocess
import sys

import pytest

from partnner_ros.testbed import cpu_quota

DEVICES = '''
devices:
  - {name: a, speed: 0.5, memory_mb: 30}
  - {name: b, speed: 0.5, memory_mb: 30}
  - {name: c, speed: 0.5, memory_mb: 30}
links: [[a, b, 10000], [b, c, 10000], [a, c, 10000]]
'''


@pytest.mark.skipif(cpu_quota.unavailable() is not None, reason=f'{cpu_quota.unavailable()}')
def test_a_three_stage_plan_runs_and_its_throughput_is_measured(tmp_path):
    (tmp_path / 'devices.yaml').write_text(DEVICES)
    plan = subprocess.run([sys.executable, '-P', '-m', 'partnner_ros', 'plan', '--model', 'resnet18', '--devices',
                           str(tmp_path / 'devices.yaml'), '--algo', 'bnb', '--json', '--profile-cache',
                           str(tmp_path / 'profiles')], capture_output=True, text=True, timeout=300)
    assert plan.returncode == 0, plan.stderr
    (tmp_path / 'plan.json').write_text(plan.stdout)
    stages = json.loads(plan.stdout)['plans']['bnb']['plan']['stages']
    assert len(stages) == 3  # equal devices on fast links: the best plan uses all three
    run = subprocess.run([sys.executable, '-P', '-m', 'partnner_ros', 'pipeline', str(tmp_path / 'plan.json'),
                          '--duration', '20', '--warmup', '5', '--out', str(tmp_path / 'run')],
                         capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stderr[-3000:]
    result = json.loads((tmp_path / 'run' / 'pipeline.json').read_text())
    assert [s['name'] for s in result['stages']] == ['edge', 'stage_1', 'cloud']
    assert result['measured']['results'] >= 10
    assert result['predicted']['throughput_fps'] > 0 and result['measured_over_predicted'] > 0
