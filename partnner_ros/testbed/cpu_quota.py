"""CPU quotas with cgroups, to make a process run like a slower machine.

A quota of ``cpus`` lets the group's processes run ``cpus`` CPU-seconds per second
(0.1: a tenth of one core). The period is short (10 ms, longer only for quotas
under a tenth of a core, as the kernel wants at least 1 ms of quota) so that a
30 ms inference is slowed evenly instead of running at full speed and then
stalling. cgroup v2
(``cpu.max``) and v1 (``cpu.cfs_quota_us``) are both handled.
"""

import os
from pathlib import Path

V2_ROOT = Path('/sys/fs/cgroup')
V1_ROOT = Path('/sys/fs/cgroup/cpu')
PERIOD_US = 10_000


def _root() -> tuple[Path, bool] | None:
    """The cgroup folder that has the cpu controller, and whether it is v2."""
    controllers = V2_ROOT / 'cgroup.controllers'
    if controllers.exists() and 'cpu' in controllers.read_text().split():
        return V2_ROOT, True
    if (V1_ROOT / 'cpu.cfs_quota_us').exists():
        return V1_ROOT, False
    return None


def unavailable() -> str | None:
    """Why CPU quotas cannot be used here, or None when they can."""
    if os.geteuid() != 0:
        return 'CPU quotas need root (cgroups)'
    if _root() is None:
        return 'no cgroup cpu controller is mounted (neither cgroup v2 cpu.max nor v1 cpu.cfs_quota_us)'
    return None


class CpuQuota:
    """A cgroup named ``partnner-<name>`` with a CPU quota; removed by :meth:`close`."""

    def __init__(self, name: str, cpus: float | None = None):
        why = unavailable()
        if why:
            raise PermissionError(why)
        self.root, self.v2 = _root()
        self.path = self.root / f'partnner-{name}'
        self.path.mkdir(exist_ok=True)
        try:
            self.set(cpus)
        except (ValueError, OSError):
            self.close()
            raise

    def set(self, cpus: float | None) -> None:
        """Limit the group to ``cpus`` CPUs (None: no limit)."""
        if cpus is not None and not cpus > 0:
            raise ValueError(f'a CPU quota must be positive, got {cpus}')
        period = PERIOD_US if cpus is None else max(PERIOD_US, int(1000 / cpus) + 1)
        quota = -1 if cpus is None else int(cpus * period)
        if self.v2:
            (self.path / 'cpu.max').write_text(f'{"max" if quota < 0 else quota} {period}')
        else:
            # v1 refuses a period shorter than the quota in force: lift the quota first
            (self.path / 'cpu.cfs_quota_us').write_text('-1')
            (self.path / 'cpu.cfs_period_us').write_text(str(period))
            (self.path / 'cpu.cfs_quota_us').write_text(str(quota))

    def add(self, pid: int) -> None:
        """Move a process (all its threads, and the children it starts later) into the group."""
        (self.path / 'cgroup.procs').write_text(str(pid))

    def pids(self) -> list[int]:
        """The ids of the processes now in the group."""
        return [int(p) for p in (self.path / 'cgroup.procs').read_text().split()]

    def close(self) -> None:
        """Move any process left back to the root group and remove the group."""
        if not self.path.exists():
            return
        for pid in self.pids():
            try:
                (self.root / 'cgroup.procs').write_text(str(pid))
            except ProcessLookupError:
                pass
        self.path.rmdir()

    def __enter__(self) -> 'CpuQuota':
        return self

    def __exit__(self, *exc) -> None:
        self.close()
