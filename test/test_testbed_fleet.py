"""The live fleet, briefly: three robots, each in a namespace of its own behind its own shaped link and CPU
quota, and two servers in theirs, as real nodes over DDS; one server is killed (root only; skipped
otherwise)."""

import pytest

from partnner_ros.commands.fleet_report import plot_live
from partnner_ros.testbed import cpu_quota, link
from partnner_ros.testbed.fleet_bench import FleetBench, FleetOptions

WHY = link.unavailable() or cpu_quota.unavailable()
pytestmark = pytest.mark.skipif(WHY is not None, reason=f'needs root: {WHY}')


def test_three_robots_two_servers_one_dies_and_every_robot_goes_on(tmp_path):
    # robots slow enough to want the server, not so slow that they miss camera images (which nobody could count)
    opts = FleetOptions(robots=3, servers=2, mbps=[8.0, 4.0, 8.0], robot_cpus=0.25, fps=2.0, duration=20.0,
                        fail_server_at=10.0, out=tmp_path, tag='ci')
    with FleetBench(opts) as bench:
        figures = bench.run()
    assert figures['killed_at_s'] is not None
    for name, robot in figures['robots'].items():
        outcomes = robot['served'] + robot['dropped'] + robot['lost'] + robot['rejected']
        # the observer and the edge each take the camera's images best effort: they may miss one or two apart
        assert abs(outcomes - robot['images']) <= 3, (name, robot)
        assert robot['served'] >= 10 and robot['rejected'] == 0, (name, robot)
        # every robot ends on the server that lives, whichever it started on
        assert robot['servers'][-1] == 'server2', (name, robot)
    figure = plot_live(tmp_path, list(figures['robots']), 'three robots, two servers, one killed')
    assert figure.stat().st_size > 10_000
