"""``partnner fleet --live``: N robots and M servers as real nodes on this machine (root).

Each robot is a network namespace (:mod:`.fleet_net`) with its own shaped link, and
runs the camera source, the edge, the partition manager and an observer in a ROS
namespace of its own; the edge and the manager share a CPU quota of their own, which
makes the robot slower than the servers. Each server is a namespace running one
cloud node that serves every robot. Fast DDS runs over UDP only, so every byte
between a robot and a server crosses the robot's shaped link. A server may be
killed at a set time, to watch its robots move. Every robot's observer records its
frames, so each robot's latency and frame accounting come from its own clock.
"""

import csv
import os
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..system.processes import log_tail, node_command, spawn, stop
from .bench import csv_rows, udp_profile
from .cpu_quota import CpuQuota
from .fleet_net import FleetNet

RESULT_TIMEOUT_S = 2.0
QUIET_S = RESULT_TIMEOUT_S + 8.0  # after the run, no outcome for this long: the robots are done


@dataclass
class FleetOptions:
    """What runs: robots, servers, each robot's link (Mbit/s), its CPU quota, model, policy, camera rate,
    seconds, a server's death, and where the records go.
    """

    robots: int = 3
    servers: int = 1
    mbps: list = field(default_factory=lambda: [8.0])  # robot i's rate: mbps[i % len(mbps)]
    robot_cpus: float = 0.1
    model: str = 'yolov8n'
    policy: str = 'partnner'  # a manager policy, or uncoordinated: partnner that ignores the server's load
    fps: float = 5.0
    duration: float = 30.0
    fail_server_at: float | None = None
    source: str = 'bundled'
    out: Path = Path('results/fleet_live')
    tag: str = 'fleet'
    startup_timeout: float = 300.0


class FleetBench:
    """The fleet's namespaces, quotas and nodes, removed on exit; :meth:`run` runs it once."""

    def __init__(self, opts: FleetOptions, log=None):
        self.opts = opts
        self.log = log or (lambda line: print(line, file=sys.stderr, flush=True))
        self.robot_names = [f'robot{i + 1}' for i in range(opts.robots)]
        self.server_names = [f'server{m + 1}' for m in range(opts.servers)]
        rates = {r: float(opts.mbps[i % len(opts.mbps)]) for i, r in enumerate(self.robot_names)}
        self.net = FleetNet(opts.tag, rates, self.server_names)
        self.quotas: dict[str, CpuQuota] = {}
        self.procs: dict[str, object] = {}
        self.env = {**os.environ, 'ROS_DOMAIN_ID': str(100 + os.getpid() % 100),
                    'ROS_AUTOMATIC_DISCOVERY_RANGE': 'SUBNET', 'FASTDDS_DEFAULT_PROFILES_FILE': udp_profile(),
                    'OMP_NUM_THREADS': '1'}
        self.env.pop('ROS_STATIC_PEERS', None)

    def __enter__(self) -> 'FleetBench':
        self.net.up()
        try:
            self.quotas = {r: CpuQuota(f'{self.opts.tag}-{r}', self.opts.robot_cpus) for r in self.robot_names}
        except Exception:
            self.__exit__()
            raise
        return self

    def __exit__(self, *exc) -> None:
        stop(self.procs.values())
        self.procs.clear()
        for quota in self.quotas.values():
            quota.close()
        self.net.down()

    def _start(self, key: str, host: str, module: str, ns: str, params: dict, name: str | None = None) -> None:
        argv = node_command(module, ns, params)
        if name:
            argv += ['-r', f'__node:={name}']
        self.procs[key] = spawn(self.net.hosts[host].command(argv), self.opts.out / f'{key}.log', env=self.env)

    def run(self) -> dict:
        """Start everything, run ``duration`` s of camera frames per robot, stop; returns each robot's figures."""
        o = self.opts
        o.out.mkdir(parents=True, exist_ok=True)
        model = {'model': o.model, 'threads': 1}
        for m, server in enumerate(self.server_names):
            named = {'server': server} if o.servers > 1 else {}
            self._start(server, server, 'cloud', '/', {**model, 'robots': self.robot_names, **named},
                        name=f'cloud_{m + 1}')
        for robot in self.robot_names:
            folder = o.out / robot
            folder.mkdir(exist_ok=True)
            for stale in ('ready', 'frames.csv', 'images.csv', 'states.csv'):
                (folder / stale).unlink(missing_ok=True)
            self._start(f'{robot}-edge', robot, 'edge', f'/{robot}', {**model, 'result_timeout': RESULT_TIMEOUT_S})
            manager = {'policy': 'partnner', 'coordinate': False} if o.policy == 'uncoordinated' \
                else {'policy': o.policy}
            self._start(f'{robot}-manager', robot, 'partition_manager', f'/{robot}', manager)
            self._start(f'{robot}-observer', robot, 'testbed.observer', f'/{robot}', {'out': str(folder.resolve())})
        self._wait_ready()
        for robot in self.robot_names:
            for part in ('edge', 'manager'):
                self.quotas[robot].add(self.procs[f'{robot}-{part}'].pid)
            self._start(f'{robot}-camera', robot, 'camera_source', f'/{robot}', {
                'source': o.source, 'rate': o.fps, 'max_frames': int(round(o.duration * o.fps)), 'loop': True})
        self.log(f'fleet: {o.robots} robots, {o.servers} server(s), {o.duration:.0f} s at {o.fps:g} fps')
        killed = self._measure()
        return {'robots': {r: robot_figures(o.out / r) for r in self.robot_names}, 'killed_at_s': killed}

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + self.opts.startup_timeout
        while not all((self.opts.out / r / 'ready').exists() for r in self.robot_names):
            dead = [k for k, p in self.procs.items() if p.poll() is not None]
            if dead or time.monotonic() > deadline:
                why = f'{", ".join(dead)} exited' if dead else 'not ready in time'
                raise RuntimeError(f'fleet: {why}\n' + ''.join(log_tail(self.opts.out / f'{k}.log') for k in dead))
            time.sleep(0.5)

    def _measure(self) -> float | None:
        """Run for ``duration``, killing server1 on time, then until every robot's frames have outcomes or no
        outcome has come for QUIET_S (a slow robot's last frame may take seconds).
        """
        o = self.opts
        start = time.monotonic()
        killed = None
        seen, last_news = -1, start
        while True:
            now = time.monotonic() - start
            if o.fail_server_at is not None and killed is None and now >= o.fail_server_at:
                stop([self.procs.pop(self.server_names[0])], grace_s=0.0)
                killed = now
                self.log(f'fleet: {self.server_names[0]} killed at {now:.1f} s')
            outcomes = [csv_rows(o.out / r / 'frames.csv') for r in self.robot_names]
            if sum(outcomes) != seen:
                seen, last_news = sum(outcomes), time.monotonic()
            if now > o.duration and (time.monotonic() - last_news > QUIET_S or all(
                    n >= csv_rows(o.out / r / 'images.csv') for n, r in zip(outcomes, self.robot_names))):
                return killed
            time.sleep(0.5)


def robot_figures(folder: Path) -> dict:
    """One robot's frames from its observer: published, answered, lost and dropped, latency, and the servers it
    used, in turn.
    """
    with open(folder / 'frames.csv') as f:
        rows = list(csv.DictReader(f))
    with open(folder / 'states.csv') as f:
        servers = [r['server'] for r in csv.DictReader(f)]
    ok = np.array([float(r['e2e_ms']) for r in rows if r['status'] == '0'])
    count = {s: sum(r['status'] == s for r in rows) for s in ('0', '1', '2', '3', '4')}
    return {'images': csv_rows(folder / 'images.csv'), 'served': count['0'], 'dropped': count['1'],
            'lost': count['2'], 'rejected': count['3'] + count['4'],
            'mean_ms': float(ok.mean()) if len(ok) else float('nan'),
            'p95_ms': float(np.percentile(ok, 95)) if len(ok) else float('nan'),
            'cloud_share': float(np.mean([r['split'] == '0' for r in rows if r['status'] == '0'])) if len(ok) else 0.0,
            'servers': [s for i, s in enumerate(servers) if i == 0 or s != servers[i - 1]]}
