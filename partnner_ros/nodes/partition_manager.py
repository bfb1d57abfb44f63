"""Partition manager (robot): watches every frame's outcome, keeps the cloud's
health, asks its policy for the split (and for shadow probes), applies them to the
edge through the edge's parameter service, and publishes the partition state
(transient local).

End-to-end latency is measured here, on the robot's clock only: the camera stamp
to the arrival of the frame's record. Transfer time is derived from durations.
"""

import time
import zlib

import numpy as np
from rclpy.node import Node
from rclpy.parameter_client import AsyncParameterClient

from ..core.adaptation import policies
from ..core.adaptation.frames import Status, record_from_timing, stamp_ns
from ..core.adaptation.health import CloudHealth
from ..core.adaptation.partnner import Partnner
from ..core.adaptation.probing import ProbeBudget, ProbeSpend
from ..core.adaptation.split_space import SplitSpace
from ..core.adaptation.stats import RollingStats
from ..core.fleet.servers import ServerChoice, ServerHeard
from ..core.model.profile_data import Profile
from ..msg import CloudStatus, FrameTiming, PartitionState
from . import qos
from .diagnostics import ERROR, OK, WARN, Diagnostics
from .edge_control import EdgeControl
from .params import Params, one_of
from .requests import Outstanding
from .runner import run

PING_TIMEOUT_S = 3.0


def neurosurgeon_profile(policy: policies.Neurosurgeon, edge_file: str, cloud_file: str, space: SplitSpace):
    """Load the per-platform profiles (partnner profile --json on each machine) into neurosurgeon."""
    edge, cloud = Profile.load(edge_file), Profile.load(cloud_file)
    n = space.num_layers
    if edge.num_layers != n or cloud.num_layers != n:
        raise ValueError(f'the profiles are of a {edge.num_layers}/{cloud.num_layers}-layer model, '
                         f'the edge runs {n} layers')
    sent, received = edge.payloads(space.codec_for, strict=False), cloud.payloads(space.codec_for, strict=False)
    size = np.where(np.isnan(sent.bytes), np.inf, sent.bytes)
    policy.set_profile(edge.layer_ms, cloud.layer_ms, size, sent.encode_ms + received.decode_ms)


class PartitionManager(Node):
    """Chooses the edge's split (and shadow probes) from ``frame_timing`` and ``cloud_status``, sets it through
    the edge's parameter service, pings the cloud through its own, and publishes ``partition_state``.
    """

    def __init__(self):
        super().__init__('partition_manager')
        self.num_layers: int | None = None
        self.space: SplitSpace | None = None
        self.params = Params(self)
        edge_node = self._declare_parameters()
        p = self.params

        self.fingerprint = ''
        self.policy: policies.Policy | None = None
        self.policy_error = ''  # why the policy asked for could not be made
        self.health = CloudHealth(p.values['cloud_timeout'])
        self.cloud_fingerprint = ''
        # robots that share servers must not draw alike (see Partnner.server_load and ServerChoice)
        self.seed = zlib.crc32(self.get_fully_qualified_name().encode())
        self.servers = ServerChoice(timeout_s=p.values['server_timeout'], seed=self.seed)
        self.moved_at_ns = 0  # when the robot last moved to another server (frames stamped before it may be lost)
        self.e2e = RollingStats(p.values['stats_window'])
        self.counts = {s: 0 for s in Status}
        self.per_split: dict[int, int] = {}
        self.reason = 'waiting for the edge'
        self.decision_us = RollingStats(100)
        self.pings = RollingStats(20)
        self.pongs = 0
        self.probe_spend = ProbeSpend()
        self.ping_request = Outstanding(PING_TIMEOUT_S)

        self.edge = EdgeControl(self, edge_node)
        self._ping_clients: dict[str, AsyncParameterClient] = {}
        self.state_pub = self.create_publisher(PartitionState, 'partition_state', qos.STATE)
        self.create_subscription(FrameTiming, 'frame_timing', self._on_timing, qos.RESULTS,
                                 event_callbacks=qos.sub_events(self, 'frame_timing'))
        self.create_subscription(CloudStatus, 'cloud_status', self._on_heartbeat, qos.HEARTBEAT)
        self.create_timer(0.05, self._tick)
        self.create_timer(0.5, self._publish_state)
        self.create_timer(p.values['ping_period'], self._send_ping)
        self.diagnostics = Diagnostics(self, self._diagnostics)

    # --- parameters ---------------------------------------------------------------------------
    def _declare_parameters(self) -> str:
        """Declare the parameters; return the name of the edge node."""
        p = self.params
        # before the policy, whose check needs them for neurosurgeon
        p.declare('edge_profile', '', 'neurosurgeon only: partnner profile --json measured on the robot',
                  read_only=True)
        p.declare('cloud_profile', '', 'neurosurgeon only: partnner profile --json measured on the server',
                  read_only=True)
        p.declare('policy', 'partnner', 'split policy: ' + ', '.join(policies.POLICIES),
                  check=self._check_policy, on_change=lambda _: self._rebuild_policy())
        p.declare('split', 0, 'the split of the fixed policy (0 cloud-only .. num_layers edge-only)',
                  int_range=(0, 65535), check=self._check_split, on_change=lambda _: self._rebuild_policy())
        p.declare('cloud_timeout', 2.0, 'deadline in seconds to fall back to edge-only when the cloud stops '
                  'answering', float_range=(0.2, 600.0), on_change=self._set_deadline)
        p.declare('stats_window', 100, 'frames in the rolling latency statistics', int_range=(1, 100000),
                  on_change=lambda w: self.e2e.resize(w))
        p.declare('coordinate', True, 'charge a shared server\'s queue wait and congestion price to the splits that '
                  'use it (partnner); false: see the server only as a slower cloud, as a robot alone would')
        p.declare('probe_budget', 0.05, 'share of the uplink and of the server time that shadow probes may use '
                  '(partnner)', float_range=(0.001, 1.0), on_change=self._set_probe_budget)
        p.declare('fidelity_profile', '', 'partnner profile --json of the model (from any machine: fidelity does '
                  'not depend on it); with it, partnner picks the codec with the split among the candidates '
                  'whose results stay within the fidelity bound', read_only=True)
        p.declare('server_timeout', 0.75, 'seconds of heartbeat silence after which a server counts as dead and '
                  'its robots move to another (with several servers)', float_range=(0.2, 10.0), read_only=True)
        p.declare('ping_period', 1.0, 'seconds between round-trip pings of the cloud', float_range=(0.05, 60.0),
                  read_only=True)
        return p.declare('edge_node', 'edge', 'name of the edge node whose split parameter is set', read_only=True)

    def _check_split(self, value):
        if self.num_layers is not None and not 0 <= value <= self.num_layers:
            return f'must be in [0, {self.num_layers}] for this model'
        return None

    def _check_policy(self, value):
        reason = one_of(policies.POLICIES)(value)
        if reason is not None or value != 'neurosurgeon':
            return reason
        v = self.params.values
        if not (v.get('edge_profile') and v.get('cloud_profile')):
            return 'neurosurgeon needs the edge_profile and cloud_profile parameters (profiles measured in advance ' \
                   'on each machine)'
        try:
            if self.space is not None:
                self._make_policy({**v, 'policy': value})
            else:  # before the edge is known, the profiles must at least load
                for side in ('edge', 'cloud'):
                    Profile.load(v[f'{side}_profile'])
        except (ValueError, OSError) as e:
            return f'neurosurgeon: {e}'
        return None

    def _set_deadline(self, value):
        self.health.deadline_s = value

    def _set_probe_budget(self, share: float) -> None:
        if isinstance(self.policy, policies.Partnner):
            self.policy.budget = ProbeBudget(share)

    def _make_policy(self, v: dict) -> policies.Policy:
        """The policy the parameters ``v`` name; raises ValueError or OSError when neurosurgeon's profiles
        do not load or do not fit the edge's model.
        """
        assert self.space is not None and self.num_layers is not None
        policy = policies.make_policy(v['policy'], self.num_layers, min(v['split'], self.num_layers), self.space,
                                      probe_share=v['probe_budget'], seed=self.seed)
        if isinstance(policy, policies.Neurosurgeon):
            neurosurgeon_profile(policy, v['edge_profile'], v['cloud_profile'], self.space)
        return policy

    def _rebuild_policy(self):
        if self.space is not None:
            self.policy = self._make_policy(self.params.values)
            self.policy_error = ''

    def _policy_name(self) -> str:
        """The policy that runs (edge_only when the one asked for could not be made)."""
        return self.policy.name if self.policy is not None else self.params.values['policy']

    # --- inputs -------------------------------------------------------------------------------
    def _on_heartbeat(self, msg):
        self.health.heartbeat(time.monotonic())
        self.cloud_fingerprint = msg.model_fingerprint
        self.servers.heartbeat(msg.server, ServerHeard(time.monotonic(), msg.wait_ms, msg.price, msg.ms_per_gweight,
                                                       msg.model_fingerprint, msg.node))

    def _on_timing(self, msg):
        status = Status(msg.status)
        if not msg.probe:
            self.counts[status] += 1
        if status == Status.LOST:
            if stamp_ns(msg.header.stamp) < self.moved_at_ns:  # a frame left on a server since abandoned
                return
            self.health.lost(time.monotonic(), f'frame {msg.frame_seq} lost: {msg.error}')
            if self.policy is not None:
                self.policy.observe(record_from_timing(msg, self.get_clock().now().nanoseconds))
            return
        if status != Status.OK:
            return
        if msg.split != self.num_layers and not msg.probe:
            self.health.served()
        record = record_from_timing(msg, self.get_clock().now().nanoseconds)
        if not msg.probe:
            self.e2e.add(record.e2e_ms)
            self.per_split[msg.split] = self.per_split.get(msg.split, 0) + 1
        if self.policy is not None:
            self.policy.observe(record)
        link = getattr(self.policy, 'link', None)
        self.probe_spend.observe(record, link.bandwidth.value if link is not None and link.known else float('nan'))

    def _send_ping(self):
        """Time a round trip to the server in use, through the parameter service of the node its heartbeats name
        (wherever it runs: a fleet's server is outside the robot's namespace).
        """
        sent = time.monotonic()
        heard = self.servers.heard.get(self.servers.current) if self.servers.current is not None else None
        if heard is None or not heard.node or self.ping_request.busy(sent):
            return
        if heard.node not in self._ping_clients:
            self._ping_clients[heard.node] = AsyncParameterClient(self, heard.node)
        client = self._ping_clients[heard.node]
        if client.services_are_ready():
            self.ping_request.start(client.get_parameters(['num_layers']), sent, lambda f: self._on_pong(f, sent))

    def _on_pong(self, future, sent):
        if future.exception() is None:
            self.pongs += 1
            self.pings.add((time.monotonic() - sent) * 1e3)
            if hasattr(self.policy, 'ping'):
                self.policy.ping(self.pings.last)

    # --- decisions ----------------------------------------------------------------------------
    def _tick(self):
        now = time.monotonic()
        if self.edge.busy(now):
            return
        if self.num_layers is None:
            self.edge.read_facts(now, self._on_edge_discovered)
            return
        t0 = time.perf_counter()
        target, reason = self.policy.choose()
        probe = self.policy.probe_split()
        every = self.policy.probe_every
        self.decision_us.add((time.perf_counter() - t0) * 1e6)
        if self.cloud_fingerprint and self.cloud_fingerprint != self.fingerprint:
            target, reason = self.num_layers, (f'the cloud serves another model ({self.cloud_fingerprint}, '
                                               f'edge has {self.fingerprint}): edge-only')
        elif not self.health.alive(now):
            target, reason = self.num_layers, f'{self.health.reason}: edge-only'
        wanted = (target, -1 if probe is None else probe, every if probe is not None else 0,
                  *self._codecs(target, probe), self._server(now, target))
        if wanted != self.edge.applied:
            self.edge.apply(wanted, now, lambda result, previous: self._on_applied(result, previous, wanted, reason))
        else:
            self.reason = reason

    def _server(self, now: float, split: int) -> str | None:
        """The server for the next frames (None: none heard yet), its load handed to the policy."""
        before = self.servers.current
        cloud_ms = self.policy.cloud.predict(split, self.num_layers) \
            if isinstance(self.policy, Partnner) and self.policy.cloud.known and split < self.num_layers else 0.0
        server = self.servers.choose(now, cloud_ms, self.fingerprint)
        if server is None:
            return None
        if before is not None and server != before:
            self.moved_at_ns = self.get_clock().now().nanoseconds
            self.get_logger().info(f'server {before or "(unnamed)"} -> {server or "(unnamed)"}'
                                   f'{"" if before in self.servers.alive(now) else ": it went silent"}')
        heard = self.servers.heard[server]
        if isinstance(self.policy, Partnner) and self.params.values['coordinate']:
            self.policy.server_load(heard.wait_ms, heard.price)
        return server

    def _on_edge_discovered(self, answer):
        v = answer.values
        n = v[0].integer_value
        elements = list(v[4].integer_array_value)
        self.space = SplitSpace(n, tuple(k for k, e in enumerate(elements) if e >= 0),
                                list(v[3].double_array_value), [max(e, 0) for e in elements],
                                v[5].string_value, v[6].string_value)
        self.fingerprint = v[1].string_value
        if self.params.values['fidelity_profile']:
            try:
                self.space = self.space.with_codec_choice(Profile.load(self.params.values['fidelity_profile']))
            except (ValueError, OSError) as e:
                self.get_logger().error(f'fidelity_profile: {e}; keeping the edge\'s codecs')
        if self.params.values['split'] > n:
            self.get_logger().warn(f'split {self.params.values["split"]} exceeds the model\'s {n} layers; '
                                   f'using {n}')
        self.num_layers = n
        try:
            self._rebuild_policy()
        except (ValueError, OSError) as e:
            self.policy_error = f'policy {self.params.values["policy"]}: {e}'
            self.get_logger().error(f'{self.policy_error}; using edge_only')
            self.policy = policies.EdgeOnly(n)
        self.get_logger().info(f'edge model {self.fingerprint}, {n} layers, policy {self.policy.name}')

    def _codecs(self, split: int, probe: int | None) -> tuple[str | None, str | None]:
        """The policy's feature and input codecs for the split and the probe (None: the edge's own)."""
        n, feature, image = self.num_layers, None, None
        for k in (split, probe):
            if k is not None and 0 < k < n:
                feature = feature or self.policy.codec_for(k)
            elif k == 0:
                image = image or self.policy.codec_for(0)
        return feature, image

    def _on_applied(self, result, previous, wanted, reason):
        if not result.successful:
            self.get_logger().error(f'the edge refused split {wanted[0]}: {result.reason}')
            return
        self.reason = reason
        if previous != wanted[0]:
            self.get_logger().info(f'split {previous} -> {wanted[0]}: {reason}')
            self._publish_state()

    # --- outputs ------------------------------------------------------------------------------
    def _server_values(self) -> dict:
        name = self.servers.current
        if name is None:
            return {}
        heard = self.servers.heard[name]
        return {'server': name, 'servers_alive': len(self.servers.alive(time.monotonic())),
                'server_moves': self.servers.moves, 'server_wait_ms': float(heard.wait_ms),
                'server_price': float(heard.price)}

    def _estimates(self) -> dict:
        p = self.policy
        # every policy's state says what a round trip costs (a recording's replay needs it)
        out = {'rtt_ms': self.pings.low} if len(self.pings) else {}
        if not isinstance(p, policies.Partnner):
            return out
        if p.link.known:
            out['bandwidth_bps'], out['rtt_ms'] = p.link.bandwidth.value, p.link.fixed_ms()
            out['bandwidth_cv'] = p.link.cv
        if p.edge.known:
            out['edge_model_ms'] = p.edge.scale.value
        if p.cloud.known:
            out['cloud_model_ms'] = p.cloud.scale.value
        return out

    def _probe_shares(self) -> dict:
        return {'probe_uplink_share': self.probe_spend.uplink_share,
                'probe_server_share': self.probe_spend.server_share}

    def _codec_in_use(self) -> str:
        """The codec of the current split's payload ('' at edge-only or before the edge is known)."""
        if not self.edge.applied or self.space is None or self.edge.applied[0] == self.num_layers:
            return ''
        split, _, _, codec, input_codec, _ = self.edge.applied
        if split == 0:
            return input_codec or self.space.input_codec
        return codec or self.space.codec

    def _publish_state(self):
        msg = PartitionState(policy=self._policy_name(), model_fingerprint=self.fingerprint,
                             codec=self._codec_in_use(),
                             split=self.edge.applied[0] if self.edge.applied else 0, num_layers=self.num_layers or 0,
                             reason=self.reason, cloud_alive=self.health.alive(time.monotonic()),
                             e2e_mean_ms=self.e2e.mean, e2e_p95_ms=self.e2e.p95,
                             frames_done=self.counts[Status.OK], frames_lost=self.counts[Status.LOST],
                             frames_dropped=self.counts[Status.DROPPED], **self._probe_shares(),
                             **self._estimates())
        if self.servers.current is not None:
            heard = self.servers.heard[self.servers.current]
            msg.server, msg.server_wait_ms, msg.server_price = self.servers.current, heard.wait_ms, heard.price
        msg.header.stamp = self.get_clock().now().to_msg()
        self.state_pub.publish(msg)

    def _diagnostics(self):
        alive = self.health.alive(time.monotonic())
        edge = self.edge.ready()
        level = ERROR if self.num_layers is None or not edge else OK if alive and not self.policy_error else WARN
        split = self.edge.applied[0] if self.edge.applied else None
        message = (f'no edge: {self.edge.name} does not answer' if not edge
                   else 'reading the edge\'s model' if self.num_layers is None else f'split {split}: {self.reason}')
        return level, message, {
            'policy': self._policy_name(), 'policy_error': self.policy_error, 'split': split, 'edge_answers': edge,
            'cloud_alive': alive,
            'e2e_mean_ms': self.e2e.mean, 'e2e_p95_ms': self.e2e.p95, 'frames_done': self.counts[Status.OK],
            'lost': self.counts[Status.LOST], 'dropped': self.counts[Status.DROPPED],
            'rejected': self.counts[Status.REJECTED], 'failed': self.counts[Status.FAILED],
            'decision_us_mean': self.decision_us.mean, 'pings': self.pongs,
            'ping_timeouts': self.ping_request.timeouts, 'edge_timeouts': self.edge.request.timeouts,
            'edge_set_from_outside': self.edge.outside_sets,
            **self._server_values(), **self._estimates(),
            **self._probe_shares(),
            **{f'frames_at_split[{k}]': v for k, v in sorted(self.per_split.items())}}


def main(args=None):
    """Run the partition manager node until shut down; returns the exit status (1 when it cannot start)."""
    return run(PartitionManager, args)


if __name__ == '__main__':
    raise SystemExit(main())
