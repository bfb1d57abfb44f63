"""Propagation delay without netem: a user-space wire between two interfaces.

``python -m partnner_ros.testbed.delay_line IF_A IF_B DELAY_MS`` copies every
Ethernet frame that arrives on one interface out of the other after ``DELAY_MS``,
both ways, in order (a constant delay keeps a FIFO ordered). It runs in a namespace
of its own that holds the far ends of the robot's and the server's veth pairs, so
ARP, multicast discovery and data all cross it; shaping stays on the hosts' own
interfaces (tbf), so a frame is first paced by the link rate and then travels.
"""

import argparse
import collections
import select
import socket
import time

ETH_P_ALL = 0x0003
PACKET_OUTGOING = 4
MAX_FRAME = 65536


def open_raw(interface: str) -> socket.socket:
    """A non-blocking raw packet socket bound to ``interface``, seeing every Ethernet frame (needs CAP_NET_RAW)."""
    sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
    sock.bind((interface, 0))
    sock.setblocking(False)
    return sock


def forward(a: socket.socket, b: socket.socket, delay_s: float) -> None:
    """Copy every frame arriving on one socket out of the other after ``delay_s`` seconds, both ways; never returns."""
    peer = {a: b, b: a}
    queue: collections.deque = collections.deque()  # (due, out socket, frame)
    while True:
        timeout = max(0.0, queue[0][0] - time.monotonic()) if queue else None
        ready, _, _ = select.select([a, b], [], [], timeout)
        now = time.monotonic()
        for sock in ready:
            while True:
                try:
                    frame, address = sock.recvfrom(MAX_FRAME)
                except BlockingIOError:
                    break
                if address[2] != PACKET_OUTGOING:  # the raw socket also sees what we send
                    queue.append((now + delay_s, peer[sock], frame))
        while queue and queue[0][0] <= time.monotonic():
            _, out, frame = queue.popleft()
            try:
                out.send(frame)
            except OSError:  # a full device queue drops the frame, as a real wire would
                pass


def main(argv=None) -> int:
    """Command-line entry (see the module doc); runs until interrupted and returns the exit code 0."""
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('interface_a')
    parser.add_argument('interface_b')
    parser.add_argument('delay_ms', type=float)
    args = parser.parse_args(argv)
    if not 0 <= args.delay_ms <= 10_000:
        parser.error('delay_ms must be in [0, 10000]')
    try:
        forward(open_raw(args.interface_a), open_raw(args.interface_b), args.delay_ms / 1e3)
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == '__main__':
    raise SystemExit(main())
