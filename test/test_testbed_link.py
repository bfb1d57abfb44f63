"""The testbed's emulated link and CPU quota: real namespaces, real tbf shaping and
real cgroups (root only; skipped otherwise)."""

import subprocess
import sys
import time

import pytest

from partnner_ros.testbed import cpu_quota, link

pytestmark = pytest.mark.skipif(link.unavailable() is not None, reason=f'needs root: {link.unavailable()}')

SERVER = '''
import socket
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); s.bind(("0.0.0.0", 5001)); s.listen(1)
c, _ = s.accept(); n = 0
while n < 2_000_000:
    n += len(c.recv(65536))
    if n in (1_000_000, 2_000_000): c.sendall(b"k")
'''
CLIENT = '''
import socket, sys, time
s = socket.create_connection((sys.argv[1], 5001))
for _ in range(2):
    t = time.perf_counter(); s.sendall(b"x" * 1_000_000); s.recv(1); print(time.perf_counter() - t, flush=True)
    sys.stdin.readline()
'''


def netns_list() -> str:
    return subprocess.run(['ip', 'netns', 'list'], capture_output=True, text=True).stdout


def test_link_shapes_both_ways_changes_rate_live_and_leaves_nothing():
    with link.Link('pytest', 20.0) as lk:
        server = subprocess.Popen(lk.server.command([sys.executable, '-c', SERVER]))
        time.sleep(0.5)
        client = subprocess.Popen(lk.robot.command([sys.executable, '-c', CLIENT, lk.server.address]),
                                  stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        fast = float(client.stdout.readline())
        lk.set_rate(5.0)
        client.stdin.write('\n')
        client.stdin.flush()
        slow = float(client.stdout.readline())
        client.stdin.write('\n')
        client.stdin.close()
        client.wait(10)
        server.wait(10)
        assert lk.robot.ns in netns_list() and lk.server.ns in netns_list()
        for host, peer in ((lk.robot, lk.server), (lk.server, lk.robot)):
            # no ARP exchange to wait behind a full queue
            neigh = subprocess.run(host.command(['ip', 'neigh', 'show', peer.address]), capture_output=True,
                                   text=True).stdout
            assert 'PERMANENT' in neigh, neigh
    # 8 Mbit at 20 and at 5 Mbit/s, plus TCP's start
    assert 0.38 <= fast <= 0.6, fast
    assert 1.55 <= slow <= 2.0, slow
    assert 'partnner-pytest' not in netns_list()
    assert subprocess.run(['ip', 'link', 'show', 'pnr-pytest'], capture_output=True).returncode != 0


def test_link_rejects_bad_rates_and_recovers_from_a_leftover():
    leftover = link.Link('pytest2', 10.0).up()  # as if a killed run left it
    with link.Link('pytest2', 10.0) as lk:
        with pytest.raises(ValueError, match='positive'):
            lk.set_rate(0.0)
    assert 'partnner-pytest2' not in netns_list()
    leftover.down()


ECHO = '''
import socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(("0.0.0.0", 5002))
while True:
    d, a = s.recvfrom(65535); s.sendto(d[:8], a)
'''
ROUND_TRIPS = '''
import socket, sys, time
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.settimeout(5)
for size in (100, 100, 100, 60000):
    t = time.perf_counter(); s.sendto(b"x" * size, (sys.argv[1], 5002)); s.recv(100)
    print((time.perf_counter() - t) * 1e3, flush=True)
'''


def test_delay_line_adds_the_propagation_delay_both_ways_and_is_removed():
    with link.Link('pytest3', 20.0, delay_ms=20.0) as lk:
        echo = subprocess.Popen(lk.server.command([sys.executable, '-c', ECHO]))
        time.sleep(0.5)
        done = subprocess.run(lk.robot.command([sys.executable, '-c', ROUND_TRIPS, lk.server.address]),
                              capture_output=True, text=True, timeout=30)
        echo.kill()
        echo.wait()
        delay_line = lk._delay_line
    assert done.returncode == 0, done.stderr
    *small, large = [float(v) for v in done.stdout.split()]
    # 20 ms each way; the first round trip also resolves the address (ARP crosses the line too)
    assert all(39 <= ms <= 60 for ms in small[1:]), small
    # 60 KB at 20 Mbit/s is 24 ms on the wire, less the bucket's burst
    assert 50 <= large <= 90, large
    assert delay_line.poll() is not None
    assert 'partnner-pytest3' not in netns_list()


@pytest.mark.skipif(cpu_quota.unavailable() is not None, reason=f'{cpu_quota.unavailable()}')
def test_cpu_quota_slows_a_process_and_is_removed():
    spin = 'import time\nt = time.process_time()\nwhile time.process_time() - t < 0.2: pass\nprint(1)'
    with cpu_quota.CpuQuota('pytest', 0.1) as q:
        t = time.monotonic()
        proc = subprocess.Popen([sys.executable, '-c', 'import sys; sys.stdin.readline()\n' + spin],
                                stdin=subprocess.PIPE, text=True)
        q.add(proc.pid)
        assert proc.pid in q.pids()
        t = time.monotonic()
        proc.communicate('\n', timeout=30)
        elapsed = time.monotonic() - t
        path = q.path
    assert elapsed >= 1.5, f'0.2 CPU-s at a tenth of a core took {elapsed:.2f} s'
    assert not path.exists()
    with pytest.raises(ValueError, match='positive'):
        cpu_quota.CpuQuota('pytest', 0.0)
    assert not path.exists()
