"""``partnner bench``: the live system on an emulated robot, server and link (root).

The robot and the server are network namespaces joined by a veth pair shaped with
tbf both ways; the link's rate follows a bandwidth trace. The robot runs the camera
source, the edge, the partition manager and the overlay; the edge and the manager
share a cgroup CPU quota that makes them ``edge_slowdown`` times slower than the
server (the camera stands in for the sensor, the overlay for the operator's
display; they run on the robot's network but outside its quota). The server runs
the cloud node, with optional load steps (a lower CPU quota). Fast DDS runs over
UDP only, so every byte between the hosts crosses the shaped link.

Every policy sees the same camera frames (at a fixed rate, the newest taken when
the pipeline is free) and the same trace, from its first frame on. Fixed splits
give the live oracle. Before the runs, the model is profiled inside each host; that
profile gives the measured speed ratio, neurosurgeon's profiles and the simulator's
prediction of the same scenario.
"""

import json
import math
import os
import signal
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from ..core.simulation.traces import Steps, trace_from_spec
from ..system.processes import log_tail, node_command, spawn, stop
from . import cpu_quota, link
from .cpu_quota import CpuQuota
from .timeline import Timeline, load_events, rate_events

BASE_POLICIES = ('partnner', 'edge_only', 'cloud_only', 'neurosurgeon', 'ans')
# the quota is corrected when the measured speed ratio is further than this from the target
RATIO_TOLERANCE = 0.1
CALIBRATION_ATTEMPTS = 5
# the edge's deadline for a result: a 130 KB image at an HSDPA trough (0.2 Mbit/s) takes
# 5 s, which is late, not lost (the default, 2 s, suits a robot that would rather fall back)
RESULT_TIMEOUT_S = 10.0
# the link while the nodes start (DDS discovery, parameter services): a trace that begins near 0 Mbit/s would
# keep them from ever getting ready; the trace takes over at the first camera frame
STARTUP_MBPS = 20.0


@dataclass
class BenchOptions:
    """What ``partnner bench`` runs: the trace (a spec for trace_from_spec), seconds per run, the robot's
    slowdown, model, codec, camera rate, policies, oracle splits, load schedule, delay, and where results go.
    """

    trace: str
    duration: float = 120.0
    edge_slowdown: float = 10.0
    model: str = 'yolov8n'
    weights: str = ''
    codec: str = 'fp16+lz4'
    fps: float = 5.0
    policies: tuple = BASE_POLICIES
    oracle: str = 'auto'          # auto, all, none, or comma-separated splits
    cloud_load: str = ''          # "seconds:factor,..." as in partnner simulate
    delay_ms: float = 0.0         # one-way propagation delay
    segment: float = 10.0
    source: str = 'bundled'
    out: Path = Path('results/bench')
    tag: str = 'bench'
    startup_timeout: float = 180.0
    profile_repeats: int = 5
    record: bool = False          # each run also recorded on the robot (recording.mcap in its folder)


@dataclass
class Calibration:
    """The profiles measured on the robot and the server, the robot's CPU quota (CPUs) that gave the
    measured slowdown ``ratio``, and every quota tried.
    """

    robot_profile: str
    server_profile: str
    robot_cpus: float
    ratio: float             # robot ms / server ms, whole model, measured
    attempts: list = field(default_factory=list)


class Bench:
    """The emulated robot, server and link (namespaces, shaped veth, CPU quotas) as a context manager that
    removes them all on exit; calibrates the quota and runs one policy at a time.
    """

    def __init__(self, opts: BenchOptions, log=None):
        self.opts = opts
        self.log = log or (lambda line: print(line, file=sys.stderr, flush=True))
        self.link = link.Link(opts.tag, 1.0, delay_ms=opts.delay_ms)
        self.robot_cpu: CpuQuota | None = None
        self.server_cpu: CpuQuota | None = None
        self.procs = []
        self.env = {**os.environ, 'ROS_DOMAIN_ID': str(100 + os.getpid() % 100),
                    'ROS_AUTOMATIC_DISCOVERY_RANGE': 'SUBNET', 'FASTDDS_DEFAULT_PROFILES_FILE': udp_profile(),
                    'OMP_NUM_THREADS': '1'}
        self.env.pop('ROS_STATIC_PEERS', None)
        self.model_params = {'model': opts.model, 'threads': 1, **({'weights': opts.weights} if opts.weights else {})}

    # --- set-up and tear-down ------------------------------------------------------------------
    def __enter__(self) -> 'Bench':
        self.trace = trace_from_spec(self.opts.trace)
        self.link.mbps = STARTUP_MBPS
        self.link.up()
        try:
            self.robot_cpu = CpuQuota(f'{self.opts.tag}-robot', 1.0 / self.opts.edge_slowdown)
            self.server_cpu = CpuQuota(f'{self.opts.tag}-server')
        except Exception:
            self.__exit__()
            raise
        return self

    def __exit__(self, *exc) -> None:
        stop(self.procs)
        self.procs.clear()
        for quota in (self.robot_cpu, self.server_cpu):
            if quota is not None:
                quota.close()
        self.link.down()

    def _start(self, host: link.Host, argv: list[str], log_path: Path, **kwargs):
        proc = spawn(host.command(argv), log_path, env=self.env, **kwargs)
        self.procs.append(proc)
        return proc

    # --- calibration ---------------------------------------------------------------------------
    def _profile_in(self, host: link.Host, quota: CpuQuota | None, path: Path) -> dict:
        import subprocess
        argv = [sys.executable, '-P', '-m', 'partnner_ros.testbed.calibrate', self.opts.model, str(path),
                '--codec', self.opts.codec, '--codec', 'jpeg', '--repeats', str(self.opts.profile_repeats)]
        if self.opts.weights:
            argv += ['--weights', self.opts.weights]
        log_path = path.with_suffix('.log')
        proc = self._start(host, argv, log_path, stdin=subprocess.PIPE, text=True)
        deadline = time.monotonic() + self.opts.startup_timeout
        while 'loaded' not in log_tail(log_path):
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f'profiling in {host.ns} failed: {log_tail(log_path)}')
            time.sleep(0.2)
        if quota is not None:
            quota.add(proc.pid)
        proc.stdin.write('go\n')
        proc.stdin.close()
        if proc.wait() != 0:
            raise RuntimeError(f'profiling in {host.ns} failed: {log_tail(log_path)}')
        self.procs.remove(proc)
        return json.loads(path.read_text())

    def calibrate(self) -> Calibration:
        """Profile the model on the server and, under the quota, on the robot, until the
        measured ratio is near the target. Throttling is coarse (an operation that overruns
        its slice waits out the period), so the ratio is not smooth in the quota: the next
        quota interpolates between the closest tries on either side of the target, and the
        best try is kept.
        """
        folder = self.opts.out / 'profiles'
        folder.mkdir(parents=True, exist_ok=True)
        server = self._profile_in(self.link.server, None, folder / 'server.json')
        target = self.opts.edge_slowdown
        cpus = 1.0 / target
        tries = []  # (cpus, ratio, profile file)
        for attempt in range(CALIBRATION_ATTEMPTS):
            self.robot_cpu.set(cpus)
            path = folder / f'robot-{attempt}.json'
            ratio = self._profile_in(self.link.robot, self.robot_cpu, path)['total_ms'] / server['total_ms']
            tries.append((cpus, ratio, path))
            self.log(f'bench: robot at {cpus:.3f} CPU is {ratio:.1f}x slower than the server at {self.opts.model}')
            if abs(ratio / target - 1) <= RATIO_TOLERANCE:
                break
            cpus = _next_quota(tries, target)
        cpus, ratio, path = min(tries, key=lambda t: abs(math.log(t[1] / target)))
        path.replace(folder / 'robot.json')
        return Calibration(str(folder / 'robot.json'), str(folder / 'server.json'), cpus, ratio,
                           [{'cpus': round(c, 4), 'ratio': round(r, 2)} for c, r, _ in tries])

    # --- one run -------------------------------------------------------------------------------
    def run(self, label: str, manager: dict, calibration: Calibration) -> Path:
        """One bounded run of one policy; returns its folder (frames.csv, images.csv,
        states.csv, run.json and the node logs).
        """
        o = self.opts
        folder = self._fresh_run(label, calibration)
        run_procs: dict = {}
        self._spawn_nodes(folder, run_procs, manager, calibration)
        num_layers = self._wait_ready(label, folder, run_procs)
        for name in ('edge', 'partition_manager'):
            self.robot_cpu.add(run_procs[name].pid)
        frames = int(round(o.duration * o.fps))
        self._start_node(run_procs, folder, 'camera_source', self.link.robot, 'camera_source', {
            'source': o.source, 'rate': o.fps, 'max_frames': frames, 'loop': True, 'min_subscribers': 3})
        t0_ns = self._first_frame(folder / 'images.csv', run_procs['camera_source'])
        timeline = Timeline(rate_events(self.trace, o.duration, self.link.set_rate)
                            + load_events(Steps.parse(o.cloud_load), self.server_cpu.set))
        timeline.start(t0_ns / 1e9)
        self.log(f'bench: {label}: {frames} frames at {o.fps:g} fps over {o.duration:.0f} s')
        errors = self._measure(folder, run_procs, t0_ns, timeline)
        meta = {'label': label, 'manager': manager, 't0_ns': t0_ns, 'num_layers': num_layers,
                'duration': o.duration, 'fps': o.fps, 'trace': self.trace.name, 'cloud_load': o.cloud_load,
                'delay_ms': o.delay_ms,
                'applied': timeline.applied, 'errors': errors + timeline.errors}
        (folder / 'run.json').write_text(json.dumps(meta, indent=1))
        return folder

    def _fresh_run(self, label: str, calibration: Calibration) -> Path:
        """The run's folder, emptied of a previous run's outputs, with the link at its start-up rate,
        the server unthrottled and the robot at the calibrated quota.
        """
        folder = self.opts.out / 'runs' / label.replace(':', '_')
        folder.mkdir(parents=True, exist_ok=True)
        for stale in ('ready', 'frames.csv', 'images.csv', 'states.csv', 'run.json'):
            (folder / stale).unlink(missing_ok=True)
        self.link.set_rate(STARTUP_MBPS)
        self.server_cpu.set(None)
        self.robot_cpu.set(calibration.robot_cpus)
        return folder

    def _start_node(self, run_procs: dict, folder: Path, name: str, host: link.Host, module: str,
                    params: dict) -> None:
        """Start node ``module`` on ``host`` in the run's namespace, as ``run_procs[name]``, logging to
        ``folder/<name>.log``.
        """
        run_procs[name] = self._start(host, node_command(module, f'/bench_{folder.name}', params),
                                      folder / f'{name}.log')

    def _spawn_nodes(self, folder: Path, run_procs: dict, manager: dict, calibration: Calibration) -> None:
        """Start the cloud (under the server's quota), the edge, the partition manager with ``manager``'s
        parameters, the overlay and the observer; the camera comes once they are ready.
        """
        robot, server = self.link.robot, self.link.server
        self._start_node(run_procs, folder, 'cloud', server, 'cloud', self.model_params)
        self._start_node(run_procs, folder, 'edge', robot, 'edge', {
            **self.model_params, 'codec': self.opts.codec, 'result_timeout': RESULT_TIMEOUT_S})
        self._start_node(run_procs, folder, 'partition_manager', robot, 'partition_manager', {
            **manager, 'edge_profile': calibration.robot_profile, 'cloud_profile': calibration.server_profile})
        self._start_node(run_procs, folder, 'overlay', robot, 'overlay', {})
        self._start_node(run_procs, folder, 'observer', robot, 'testbed.observer', {'out': str(folder.resolve())})
        if self.opts.record:
            self._start_node(run_procs, folder, 'recorder', robot, 'recorder',
                             {'out': str((folder / 'recording.mcap').resolve())})
        self.server_cpu.add(run_procs['cloud'].pid)

    def _wait_ready(self, label: str, folder: Path, run_procs: dict) -> int:
        """Wait for the observer's ``ready`` file and return the model's layer count it holds; raises
        RuntimeError when a node exits or ``startup_timeout`` passes first.
        """
        timeout = self.opts.startup_timeout
        deadline = time.monotonic() + timeout
        while not (folder / 'ready').exists():
            dead = [k for k, p in run_procs.items() if p.poll() is not None]
            if dead or time.monotonic() > deadline:
                why = f'{", ".join(dead)} exited' if dead else f'not ready after {timeout:.0f} s'
                raise RuntimeError(f'run {label}: {why}; see {folder}\n'
                                   + ''.join(log_tail(folder / f'{d}.log') for d in dead))
            time.sleep(0.2)
        return int((folder / 'ready').read_text())

    def _measure(self, folder: Path, run_procs: dict, t0_ns: int, timeline: Timeline) -> list[str]:
        """Let the run go for ``duration`` s from the first frame (t0_ns, wall clock) and until every frame
        sent has its outcome (at most RESULT_TIMEOUT_S + 1 s more); then stop the timeline and the run's
        processes. Returns the errors (a node that exited early).
        """
        errors = []
        try:
            end = t0_ns / 1e9 + self.opts.duration
            while time.time() < end + RESULT_TIMEOUT_S + 1:  # every frame sent has its outcome by then
                dead = [k for k, p in run_procs.items() if p.poll() is not None]
                if dead:
                    errors.append(f'{", ".join(dead)} exited early')
                    break
                if time.time() > end and csv_rows(folder / 'frames.csv') >= csv_rows(folder / 'images.csv'):
                    break
                time.sleep(0.5)
        finally:
            timeline.stop()
            stop(run_procs.values())
            for p in run_procs.values():
                self.procs.remove(p)
        return errors

    def _first_frame(self, images: Path, camera) -> int:
        deadline = time.monotonic() + self.opts.startup_timeout
        while csv_rows(images) < 1:
            if camera.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f'the camera sent no frame: {log_tail(images.parent / "camera_source.log")}')
            time.sleep(0.05)
        return int(images.read_text().splitlines()[1])


def _next_quota(tries: list, target: float) -> float:
    """A quota between the closest tries that ran too slow and too fast, else one scaled
    from the closest try (the model's time is roughly its CPU time over the quota).
    """
    slow = [t for t in tries if t[1] > target]
    fast = [t for t in tries if t[1] < target]
    if slow and fast:
        (c0, r0, _), (c1, r1, _) = max(slow, key=lambda t: t[0]), min(fast, key=lambda t: t[0])
        return c0 + (c1 - c0) * (1 / target - 1 / r0) / (1 / r1 - 1 / r0)
    cpus, ratio, _ = min(tries, key=lambda t: abs(math.log(t[1] / target)))
    return cpus * ratio / target


def csv_rows(csv_path: Path) -> int:
    """Data rows of a CSV file (its header apart; 0 while it does not exist)."""
    try:
        with open(csv_path, 'rb') as f:
            return max(0, sum(1 for _ in f) - 1)
    except FileNotFoundError:
        return 0


def udp_profile() -> str:
    """config/fastdds_udp.xml from the installed package (or the source tree)."""
    try:
        from ament_index_python.packages import get_package_share_directory
        path = Path(get_package_share_directory('partnner_ros'), 'config', 'fastdds_udp.xml')
    except (ImportError, LookupError):
        path = Path(__file__).resolve().parents[2] / 'config' / 'fastdds_udp.xml'
    if not path.exists():
        raise FileNotFoundError(f'the testbed DDS profile {path} is missing')
    return str(path)


def unavailable() -> str | None:
    """Why the bench cannot run here (not root, no ip/tc, no cgroup cpu controller), or None when it can."""
    return link.unavailable() or cpu_quota.unavailable()


def _raise_interrupt(*_):
    raise KeyboardInterrupt


def report_again(opts: BenchOptions) -> int:
    """Write the report again from the runs already in ``opts.out`` (no root needed)."""
    from .report import write_report
    try:
        calibration = Calibration(**json.loads((opts.out / 'calibration.json').read_text()))
    except FileNotFoundError:
        print(f'partnner bench: no bench results in {opts.out}', file=sys.stderr)
        return 2
    runs = sorted((p.parent for p in (opts.out / 'runs').glob('*/run.json')),
                  key=lambda p: json.loads((p / 'run.json').read_text())['t0_ns'])
    print(f'bench report written to {write_report(opts, calibration, trace_from_spec(opts.trace), runs)}')
    return 0


def run_bench(opts: BenchOptions, log=None) -> int:
    """Calibrate, run every policy and the oracle's fixed splits, and write the report."""
    from .report import candidate_splits, manager_params, write_report
    why = unavailable()
    if why:
        print(f'partnner bench needs root and Linux namespaces: {why}', file=sys.stderr)
        return 2
    opts.out.mkdir(parents=True, exist_ok=True)
    previous = signal.signal(signal.SIGTERM, _raise_interrupt)  # a kill still tears everything down
    try:
        with Bench(opts, log) as bench:
            calibration = bench.calibrate()
            (opts.out / 'calibration.json').write_text(json.dumps(asdict(calibration), indent=1))
            runs = []
            for label in opts.policies:
                runs.append(bench.run(label, manager_params(label), calibration))
            for k in candidate_splits(opts, calibration, bench.trace, runs):
                runs.append(bench.run(f'fixed:{k}', manager_params(f'fixed:{k}'), calibration))
    except KeyboardInterrupt:
        print('partnner bench: interrupted; namespaces, qdiscs, cgroups and processes removed', file=sys.stderr)
        return 130
    except RuntimeError as e:
        print(f'partnner bench: {e}', file=sys.stderr)
        return 1
    finally:
        signal.signal(signal.SIGTERM, previous)
    report = write_report(opts, calibration, bench.trace, runs)
    print(f'bench report written to {report}')
    return 0
