"""Node processes for the demo and the testbed: start them with their parameters and
a log file each, and stop them all (SIGINT, then SIGKILL after a grace period).
"""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path


def node_command(module: str, ns: str, params: dict, log_level: str = 'warn') -> list[str]:
    """``python -P -m partnner_ros.<module>`` with ROS arguments. -P: a source checkout in
    the working directory must not shadow the installed package and its generated messages.
    """
    if '.' not in module:
        module = f'nodes.{module}'
    argv = [sys.executable, '-P', '-m', f'partnner_ros.{module}', '--ros-args', '-r', f'__ns:={ns}',
            '--log-level', log_level]
    for k, v in params.items():
        argv += ['-p', f'{k}:={v}']
    return argv


def spawn(argv: list[str], log_path: Path, env: dict | None = None, **kwargs) -> subprocess.Popen:
    """Start ``argv`` in a session of its own (so its whole group can be signalled), its
    output to ``log_path``.
    """
    with open(log_path, 'w') as log:
        return subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
                                env=env, **kwargs)


def stop(procs, grace_s: float = 5.0) -> None:
    """SIGINT every live process group, SIGKILL those still alive after ``grace_s``."""
    procs = list(procs)
    for p in procs:
        if p.poll() is None:
            _signal(p, signal.SIGINT)
    deadline = time.monotonic() + grace_s
    for p in procs:
        try:
            p.wait(max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            _signal(p, signal.SIGKILL)
            p.wait()


def _signal(p: subprocess.Popen, sig: int) -> None:
    try:
        os.killpg(p.pid, sig)
    except ProcessLookupError:
        pass


def log_tail(path: Path, lines: int = 5) -> str:
    """The last ``lines`` lines of a log file ('' if there is none)."""
    try:
        return ''.join(Path(path).read_text(errors='replace').splitlines(keepends=True)[-lines:])
    except FileNotFoundError:
        return ''
