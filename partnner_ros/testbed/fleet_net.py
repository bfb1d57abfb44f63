"""A fleet's network on one machine: a namespace per robot and per server, all joined by a
bridge in a switch namespace. Each robot's link is shaped both ways with tbf (its
uplink on its own device, its downlink on the bridge's port toward it), at its own
rate; the servers sit on the unshaped LAN. Multicast is flooded (DDS discovery), and
every robot pins the servers' addresses and they its (see Link._pin_neighbours).
"""

import subprocess

from .link import Host, mac, pin, run, shape


class FleetNet:
    """``robots`` (name -> Mbit/s) and ``servers`` (names) on one bridge; a context manager that removes it all."""

    def __init__(self, tag: str, robots: dict[str, float], servers: list[str], subnet: str = '10.205.0'):
        if len(tag) > 6 or len(robots) + len(servers) > 200:
            raise ValueError('a fleet tag has at most 6 characters, and a fleet at most 200 hosts')
        self.tag, self.rates = tag, dict(robots)
        self.switch = f'partnner-{tag}-switch'
        names = [*robots, *servers]
        self.hosts = {name: Host(f'partnner-{tag}-{name}', f'pfh{tag}{i}', f'{subnet}.{i + 1}')
                      for i, name in enumerate(names)}
        self.ports = {name: f'pfs{tag}{i}' for i, name in enumerate(names)}
        self.robots, self.servers = list(robots), list(servers)

    def up(self) -> 'FleetNet':
        """Create the namespaces, the bridge and the shaped ports; RuntimeError (after a tear-down) on failure."""
        self.down()
        try:
            run('ip', 'netns', 'add', self.switch)
            sw = ['ip', 'netns', 'exec', self.switch]
            run(*sw, 'ip', 'link', 'add', 'br0', 'type', 'bridge', 'mcast_snooping', '0')
            run(*sw, 'ip', 'link', 'set', 'br0', 'up')
            for name, host in self.hosts.items():
                self._attach(name, host)
            macs = {name: mac(host) for name, host in self.hosts.items()}
            for robot in self.robots:
                for server in self.servers:
                    pin(self.hosts[robot], self.hosts[server], macs[server])
                    pin(self.hosts[server], self.hosts[robot], macs[robot])
            for robot, mbps in self.rates.items():
                self.set_rate(robot, mbps, 'add')
        except Exception:
            self.down()
            raise
        return self

    def _attach(self, name: str, host: Host) -> None:
        run('ip', 'netns', 'add', host.ns)
        run('ip', 'link', 'add', host.device, 'type', 'veth', 'peer', 'name', self.ports[name])
        run('ip', 'link', 'set', host.device, 'netns', host.ns)
        run('ip', 'link', 'set', self.ports[name], 'netns', self.switch)
        run('ip', 'netns', 'exec', self.switch, 'ip', 'link', 'set', self.ports[name], 'master', 'br0', 'up')
        for argv in (['ip', 'addr', 'add', f'{host.address}/24', 'dev', host.device],
                     ['ip', 'link', 'set', host.device, 'up'], ['ip', 'link', 'set', 'lo', 'up'],
                     ['ip', 'route', 'add', '224.0.0.0/4', 'dev', host.device]):
            run(*host.command(argv))

    def set_rate(self, robot: str, mbps: float, verb: str = 'change') -> None:
        """Shape ``robot``'s link both ways at ``mbps``."""
        shape(self.hosts[robot], self.hosts[robot].device, verb, mbps)
        shape(Host(self.switch, self.ports[robot], ''), self.ports[robot], verb, mbps)
        self.rates[robot] = mbps

    def down(self) -> None:
        """Remove every namespace of the fleet (and with them its devices); idempotent."""
        for ns in (self.switch, *(h.ns for h in self.hosts.values())):
            subprocess.run(['ip', 'netns', 'del', ns], capture_output=True)

    def __enter__(self) -> 'FleetNet':
        return self.up()

    def __exit__(self, *exc) -> None:
        self.down()
