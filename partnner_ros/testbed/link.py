"""Two hosts on one machine: a robot and a server network namespace joined by a
veth pair, each direction shaped by the kernel's token bucket filter (``tbf``;
this kernel has no netem), with the rate changeable while traffic flows."""

import os
import shutil
import subprocess
from dataclasses import dataclass

# The bucket holds this much time at the current rate (and at least two full frames,
# which tbf needs), so a burst of DDS fragments passes at line rate only briefly and
# a message takes its size over the rate, as on a real link; the queue behind it holds
# QUEUE_S at the current rate, enough for a whole feature message, so a large message
# is delayed (as on a real slow link) instead of dropped and retransmitted.
BURST_S = 0.005
MIN_BURST = 2 * 1514
QUEUE_S = 4.0
MIN_QUEUE = 4_000_000


def unavailable() -> str | None:
    """Why namespaces and shaping cannot be used here, or None when they can."""
    if os.geteuid() != 0:
        return 'network namespaces and tc need root'
    missing = [tool for tool in ('ip', 'tc') if shutil.which(tool) is None]
    if missing:
        return f'{" and ".join(missing)} not found (install iproute2)'
    return None


def _run(*args: str) -> None:
    done = subprocess.run(args, capture_output=True, text=True)
    if done.returncode:
        raise RuntimeError(f'{" ".join(args)}: {done.stderr.strip() or done.stdout.strip()}')


@dataclass(frozen=True)
class Host:
    ns: str
    device: str
    address: str

    def command(self, argv: list[str]) -> list[str]:
        """``argv`` run inside this host's namespace."""
        return ['ip', 'netns', 'exec', self.ns, *argv]


class Link:
    """``robot`` and ``server`` hosts and the shaped link between them.

    ``tag`` keeps concurrent testbeds apart (namespace and device names); ``subnet``
    is the first three octets of their /24.
    """

    def __init__(self, tag: str, mbps: float, subnet: str = '10.203.0'):
        if len(tag) > 10:
            raise ValueError('a link tag has at most 10 characters (device names are limited to 15)')
        self.robot = Host(f'partnner-{tag}-robot', f'pnr-{tag}', f'{subnet}.1')
        self.server = Host(f'partnner-{tag}-server', f'pns-{tag}', f'{subnet}.2')
        self.mbps = mbps
        self._up = False

    def up(self) -> 'Link':
        self.down()  # whatever a killed run left behind
        try:
            for host in (self.robot, self.server):
                _run('ip', 'netns', 'add', host.ns)
            _run('ip', 'link', 'add', self.robot.device, 'type', 'veth', 'peer', 'name', self.server.device)
            for host in (self.robot, self.server):
                _run('ip', 'link', 'set', host.device, 'netns', host.ns)
                _run(*host.command(['ip', 'addr', 'add', f'{host.address}/24', 'dev', host.device]))
                _run(*host.command(['ip', 'link', 'set', host.device, 'up']))
                _run(*host.command(['ip', 'link', 'set', 'lo', 'up']))
                # DDS discovery is multicast; a namespace has no route for it by default
                _run(*host.command(['ip', 'route', 'add', '224.0.0.0/4', 'dev', host.device]))
            self._up = True
            self._shape('add', self.mbps)
        except Exception:
            self.down()
            raise
        return self

    def set_rate(self, mbps: float) -> None:
        """Change both directions' rate; the next packets see it."""
        self._shape('change', mbps)
        self.mbps = mbps

    def _shape(self, verb: str, mbps: float) -> None:
        if not mbps > 0:
            raise ValueError(f'a link rate must be positive, got {mbps} Mbit/s')
        rate = mbps * 1e6 / 8  # bytes/s
        burst = max(int(rate * BURST_S), MIN_BURST)
        limit = max(int(rate * QUEUE_S), MIN_QUEUE)
        for host in (self.robot, self.server):
            _run(*host.command(['tc', 'qdisc', verb, 'dev', host.device, 'root', 'tbf', 'rate', f'{int(mbps * 1e6)}bit',
                                'burst', str(burst), 'limit', str(limit)]))

    def down(self) -> None:
        """Remove both namespaces (and with them the veth pair and its qdiscs); idempotent."""
        for host in (self.robot, self.server):
            subprocess.run(['ip', 'netns', 'del', host.ns], capture_output=True)
        subprocess.run(['ip', 'link', 'del', self.robot.device], capture_output=True)
        self._up = False

    def __enter__(self) -> 'Link':
        return self.up()

    def __exit__(self, *exc) -> None:
        self.down()
