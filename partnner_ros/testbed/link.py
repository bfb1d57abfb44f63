"""Two hosts on one machine: a robot and a server network namespace joined by a
veth pair, each direction shaped by the kernel's token bucket filter (``tbf``;
this kernel has no netem), with the rate changeable while traffic flows, and an
optional propagation delay added in user space (delay_line.py).
"""

import ctypes
import fcntl
import json
import os
import shutil
import socket
import struct
import subprocess
import sys
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


SIOCETHTOOL = 0x8946
ETHTOOL_STXCSUM = 0x17


def _tx_checksum_off(device: str) -> None:
    """Have the kernel fill in checksums itself (``ethtool -K DEV tx off``, which this
    machine lacks): a veth leaves them to the peer, and the frames the delay line copies
    would reach the far host with checksums never computed, and be dropped.
    """
    value = ctypes.create_string_buffer(struct.pack('II', ETHTOOL_STXCSUM, 0))
    request = struct.pack('16sP', device.encode(), ctypes.addressof(value)).ljust(40, b'\0')
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        fcntl.ioctl(sock, SIOCETHTOOL, request)


def run(*args: str) -> str:
    """Run a command; its output, or RuntimeError with its message when it fails."""
    done = subprocess.run(args, capture_output=True, text=True)
    if done.returncode:
        raise RuntimeError(f'{" ".join(args)}: {done.stderr.strip() or done.stdout.strip()}')
    return done.stdout


def shape(host: 'Host', device: str, verb: str, mbps: float) -> None:
    """``tc qdisc <verb>`` a token bucket of ``mbps`` on ``device`` in ``host``'s namespace (what leaves by it)."""
    if not mbps > 0:
        raise ValueError(f'a link rate must be positive, got {mbps} Mbit/s')
    rate = mbps * 1e6 / 8  # bytes/s
    burst = max(int(rate * BURST_S), MIN_BURST)
    limit = max(int(rate * QUEUE_S), MIN_QUEUE)
    run(*host.command(['tc', 'qdisc', verb, 'dev', device, 'root', 'tbf', 'rate', f'{int(mbps * 1e6)}bit',
                        'burst', str(burst), 'limit', str(limit)]))


def mac(host: 'Host') -> str:
    """The hardware address of ``host``'s device."""
    return json.loads(run(*host.command(['ip', '-j', 'link', 'show', 'dev', host.device])))[0]['address']


def pin(host: 'Host', peer: 'Host', peer_mac: str) -> None:
    """A permanent neighbour entry for ``peer`` on ``host`` (see Link._pin_neighbours)."""
    run(*host.command(['ip', 'neigh', 'replace', peer.address, 'lladdr', peer_mac, 'dev', host.device,
                        'nud', 'permanent']))


@dataclass(frozen=True)
class Host:
    """One end of the link: its network namespace, interface name and IPv4 address."""

    ns: str
    device: str
    address: str

    def command(self, argv: list[str]) -> list[str]:
        """``argv`` run inside this host's namespace."""
        return ['ip', 'netns', 'exec', self.ns, *argv]


class Link:
    """``robot`` and ``server`` hosts and the shaped link between them.

    ``tag`` keeps concurrent testbeds apart (namespace and device names); ``subnet``
    is the first three octets of their /24. With ``delay_ms`` the hosts' veth pairs
    end in a third namespace, the wire, where a delay line (delay_line.py) copies
    frames across after that one-way delay; otherwise one veth pair joins them.
    """

    def __init__(self, tag: str, mbps: float, subnet: str = '10.203.0', delay_ms: float = 0.0):
        if len(tag) > 10:
            raise ValueError('a link tag has at most 10 characters (device names are limited to 15)')
        if not 0 <= delay_ms <= 10_000:
            raise ValueError(f'a propagation delay is 0..10000 ms, got {delay_ms}')
        self.robot = Host(f'partnner-{tag}-robot', f'pnr-{tag}', f'{subnet}.1')
        self.server = Host(f'partnner-{tag}-server', f'pns-{tag}', f'{subnet}.2')
        self.wire = Host(f'partnner-{tag}-wire', f'pnw-{tag}', '')
        self.mbps = mbps
        self.delay_ms = delay_ms
        self._delay_line: subprocess.Popen | None = None

    def up(self) -> 'Link':
        """Create the namespaces, veth pairs (and delay line) and shape the link; raises RuntimeError when
        a command fails, after tearing down what it made.
        """
        self.down()  # whatever a killed run left behind
        try:
            for host in (self.robot, self.server):
                run('ip', 'netns', 'add', host.ns)
            if self.delay_ms:
                self._wire()
            else:
                run('ip', 'link', 'add', self.robot.device, 'type', 'veth', 'peer', 'name', self.server.device)
            for host in (self.robot, self.server):
                run('ip', 'link', 'set', host.device, 'netns', host.ns)
                run(*host.command(['ip', 'addr', 'add', f'{host.address}/24', 'dev', host.device]))
                run(*host.command(['ip', 'link', 'set', host.device, 'up']))
                run(*host.command(['ip', 'link', 'set', 'lo', 'up']))
                # DDS discovery is multicast; a namespace has no route for it by default
                run(*host.command(['ip', 'route', 'add', '224.0.0.0/4', 'dev', host.device]))
            self._pin_neighbours()
            self._shape('add', self.mbps)
        except Exception:
            self.down()
            raise
        return self

    def _wire(self) -> None:
        run('ip', 'netns', 'add', self.wire.ns)
        ends = [f'{self.wire.device}r', f'{self.wire.device}s']
        for host, end in zip((self.robot, self.server), ends):
            run('ip', 'link', 'add', host.device, 'type', 'veth', 'peer', 'name', end)
            _tx_checksum_off(host.device)
            run('ip', 'link', 'set', end, 'netns', self.wire.ns)
            run(*self.wire.command(['ip', 'link', 'set', end, 'up', 'promisc', 'on']))
        self._delay_line = subprocess.Popen(
            self.wire.command([sys.executable, '-P', '-m', 'partnner_ros.testbed.delay_line', *ends,
                               str(self.delay_ms)]), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)

    def _pin_neighbours(self) -> None:
        """Fixed ARP entries, as on a point-to-point link. Otherwise a host re-checks its
        peer's address every 15-45 s, the reply waits behind seconds of queued data on a
        slow uplink, and traffic the other way stalls until it comes.
        """
        macs = {host: mac(host) for host in (self.robot, self.server)}
        for host, peer in ((self.robot, self.server), (self.server, self.robot)):
            pin(host, peer, macs[peer])

    def set_rate(self, mbps: float) -> None:
        """Change both directions' rate; the next packets see it."""
        self._shape('change', mbps)
        self.mbps = mbps

    def _shape(self, verb: str, mbps: float) -> None:
        for host in (self.robot, self.server):
            shape(host, host.device, verb, mbps)

    def down(self) -> None:
        """Stop the delay line and remove the namespaces (and with them the veth pairs and
        their qdiscs); idempotent.
        """
        if self._delay_line is not None:
            self._delay_line.terminate()
            self._delay_line.wait()
            self._delay_line = None
        for host in (self.robot, self.server, self.wire):
            subprocess.run(['ip', 'netns', 'del', host.ns], capture_output=True)
        for host in (self.robot, self.server):
            subprocess.run(['ip', 'link', 'del', host.device], capture_output=True)

    def __enter__(self) -> 'Link':
        return self.up()

    def __exit__(self, *exc) -> None:
        self.down()
