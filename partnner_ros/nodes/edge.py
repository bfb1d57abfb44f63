"""Edge (robot) node: camera image in, head [0, split) out as features; at
split = num_layers the whole model runs here and results go out directly.

Threads: the executor only takes images in (latest-frame slot) and bookkeeping;
a compute thread runs preprocessing, the head and encoding; a sender thread
publishes, because Fast DDS publishes synchronously and a large message on a
slow link blocks for the whole transfer. Intake never waits for either: a frame
replaced before it was processed is reported as dropped (stale).
"""

import math
import queue
import threading
import time
from dataclasses import dataclass

import torch
from rclpy.node import Node

from ..core.adaptation.frames import Status, stamp_ns
from ..core.wire import codec as codecs
from ..core.wire import formats
from ..core.wire.flow import InFlight, LatestSlot
from ..msg import Features, FrameTiming
from . import qos
from .camera_input import declare_transport, subscribe_camera
from .diagnostics import ERROR, OK, WARN, Diagnostics
from .image_conversion import ImageConversionError
from .inference import ResultPublisher, declare_model, emulate_load
from .messages import timing_msg, wire_to_msg
from .params import Params, one_of, server_name
from .runner import run

FEATURE_CODECS = [c for c in formats.CODECS if c != formats.JPEG]
# a camera stamp further than this from the robot's clock was not taken on it: a camera left at zero, its own
# unsynchronised clock, or a bag played without use_sim_time
STAMP_TOLERANCE_S = 10.0


def _codec_name(name: str) -> str | None:
    try:
        formats.Codec.parse(name)
    except formats.UnknownCodec as e:
        return str(e)
    return None


@dataclass
class Frame:
    """A camera image taken in by the edge, with its intake sequence number and timing."""

    seq: int
    msg: object
    arrived: float      # monotonic
    intake_ms: float    # camera stamp to arrival, on the robot's clock


class EdgeNode(Node):
    """Runs the model's head on each frame from ``image_raw`` (or ``image_raw/compressed``) and publishes
    ``features`` for the cloud, or at split = num_layers the results itself; reports every frame's
    outcome on ``frame_timing`` and reads the cloud's records there too.
    """

    _threads: tuple[threading.Thread, ...] = ()  # none when the node failed to start

    def __init__(self):
        super().__init__('edge')
        p = self.params = Params(self)
        self.model = declare_model(p)
        transport = self._declare_parameters()

        self.slot: LatestSlot[Frame] = LatestSlot()
        self.in_flight = InFlight()
        self.outbox: queue.Queue = queue.Queue(maxsize=1)
        self.counts = {s: 0 for s in Status}
        self.frames_in = 0
        self.stamps_off_clock = 0
        self.latest_stamp_off = False  # the latest image's
        self.last_error = ''
        self._logged_errors: set[str] = set()
        self.compute_ms = 0.0
        self._no_cloud_logged = False

        self._wire_topics(transport)
        self.create_timer(0.05, self._expire)
        self.diagnostics = Diagnostics(self, self._diagnostics)
        self._running = True
        self._threads = (threading.Thread(target=self._compute_loop, name='edge-compute', daemon=True),
                         threading.Thread(target=self._send_loop, name='edge-send', daemon=True))
        for t in self._threads:
            t.start()
        self.get_logger().info(
            f'{self.model.name} ({self.model.fingerprint}{", random weights" if self.model.random_weights else ""}),'
            f' {self.model.num_layers} layers, split {p.values["split"]}, codec {p.values["codec"]}')

    def _declare_parameters(self) -> str:
        """Declare the split, codec, flow and probe parameters and the split-space facts;
        return ``image_transport`` (raw or compressed).
        """
        p, n = self.params, self.model.num_layers
        p.declare('split', n, f'active split: the edge runs layers [0, split); {n} is edge-only, 0 cloud-only. '
                  'Set by the partition manager', int_range=(0, n), check=self._check_split,
                  on_change=lambda _: self.slot.wake())
        p.declare('codec', 'fp16+lz4', 'codec of the tensors at 0 < split < num_layers', check=one_of(FEATURE_CODECS))
        p.declare('input_codec', 'jpeg', 'codec of the image at split 0 (jpeg@Q: JPEG at quality Q)',
                  check=_codec_name)
        p.declare('jpeg_quality', 90, 'JPEG quality at split 0', int_range=(1, 100))
        p.declare('max_in_flight', 1, 'frames sent to the cloud and not yet answered, at most. 1 gives each '
                  'frame the lowest latency (a second one would queue behind it on a busy link, and it is '
                  'staler than the frame taken when the answer comes); more raises throughput, as a '
                  'pipeline over several stages needs (the features topic keeps this many and a probe)',
                  int_range=(1, qos.MAX_IN_FLIGHT), read_only=True)
        p.declare('result_timeout', 2.0, 'seconds after which an unanswered frame counts as lost',
                  float_range=(0.05, 600.0))
        p.declare('probe_split', -1, 'split measured by shadow probes (a copy of a frame sent or run at '
                  'that split only to measure it); -1: none. Set by the partition manager', int_range=(-1, n),
                  check=lambda v: None if v == -1 else self._check_split(v))
        p.declare('probe_every', 0, 'shadow-probe every this many frames; 0: never', int_range=(0, 100000))
        p.declare('server', '', 'the server to send features to: empty, the one on features; NAME, the one named '
                  'NAME, on features/NAME. Set by the partition manager when there are several',
                  check=server_name)
        weights, elements = self._split_space_facts()
        p.declare('layer_weights', weights, 'relative compute weight of each layer (set by the node)',
                  read_only=True)
        p.declare('split_elements', elements, 'tensor elements crossing each split 0..n, -1 where a split is '
                  'not usable (set by the node)', read_only=True)
        return declare_transport(p)

    def _wire_topics(self, transport: str) -> None:
        """Create the result, features and frame_timing publishers and the frame_timing and image
        subscriptions (the camera's as ``transport`` says).
        """
        self.results = ResultPublisher(self, self.model, self.params)
        self._features_pubs: dict = {}
        self._pubs_lock = threading.Lock()
        self._features_pub('')
        self.timing_pub = self.create_publisher(FrameTiming, 'frame_timing', qos.RESULTS,
                                                event_callbacks=qos.pub_events(self, 'frame_timing'))
        self.timing_sub = self.create_subscription(FrameTiming, 'frame_timing', self._on_timing, qos.RESULTS)
        self.image_sub, self._to_rgb = subscribe_camera(self, transport, self._on_image)

    def _split_space_facts(self) -> tuple[list[float], list[int]]:
        n = self.model.num_layers
        facts = self.model.cut_facts
        elements = [facts[k].elements if k in facts and k < n else (0 if k == n else -1) for k in range(n + 1)]
        return [float(f.weight) for f in self.model.layer_facts], elements

    def _check_split(self, value):
        return None if value in self.model.cut_facts else f'{value} is not a usable split of {self.model.name}'

    # --- executor thread -------------------------------------------------------------------
    def _on_image(self, msg):
        age_ms = (self.get_clock().now().nanoseconds - stamp_ns(msg.header.stamp)) / 1e6
        self.latest_stamp_off = abs(age_ms) > STAMP_TOLERANCE_S * 1e3
        if self.latest_stamp_off:
            self._count_stamp_off_clock(age_ms)
        intake_ms = 0.0 if self.latest_stamp_off else max(0.0, age_ms)
        frame = Frame(self.frames_in, msg, time.monotonic(), intake_ms)
        self.frames_in += 1
        stale = self.slot.put(frame)
        if stale is not None:
            self._report(stale, Status.DROPPED, 'stale: a newer frame arrived before it was processed')

    def _count_stamp_off_clock(self, age_ms: float) -> None:
        self.stamps_off_clock += 1
        if self.stamps_off_clock == 1:
            self.get_logger().warning(
                f'camera stamps are {age_ms / 1e3:.0f} s off this node\'s clock: the partition manager measures '
                'each frame\'s latency, and from it the link, from the camera stamp, so it cannot adapt (is the '
                'camera stamping zero or its own clock, or a bag playing without use_sim_time?); the frames are '
                'still served')

    def _on_timing(self, msg):
        if not msg.probe and msg.model_fingerprint == self.model.fingerprint and self.in_flight.resolve(
                msg.frame_seq, lambda entry: entry[0].msg.header.stamp == msg.header.stamp) is not None:
            self.slot.wake()

    def _expire(self):
        timeout = self.params.values['result_timeout']
        for _, (frame, split) in self.in_flight.expire(time.monotonic(), timeout):
            self._report(frame, Status.LOST, f'no answer from the cloud within {timeout:.1f} s', split)
        if self.in_flight:
            self.slot.wake()

    # --- helpers ------------------------------------------------------------------------------
    def _report(self, frame: Frame, status: Status, error: str, split: int | None = None):
        self.counts[status] += 1
        if status in (Status.FAILED, Status.REJECTED):
            self.last_error = error
            key = error.split(':')[0]  # an exception's class name, or a fixed kind
            if key not in self._logged_errors:
                self._logged_errors.add(key)
                self.get_logger().error(f'frame {frame.seq}: {error} (counted; further such errors are not logged)')
        self.timing_pub.publish(timing_msg(
            frame.msg.header, frame.seq, self.model.fingerprint,
            self.params.values['split'] if split is None else split, '', int(status), error))

    def _features_pub(self, server: str):
        """The publisher of features for ``server`` ('': the unnamed one), created on first use."""
        with self._pubs_lock:
            if server not in self._features_pubs:
                topic = f'features/{server}' if server else 'features'
                self._features_pubs[server] = self.create_publisher(
                    Features, topic, qos.features(self.params.values['max_in_flight']),
                    event_callbacks=qos.pub_events(self, topic))
            return self._features_pubs[server]

    def _cloud_matched(self, server: str | None = None) -> bool:
        """A cloud (the ``server``, by default the current one) would receive our features and we would hear
        its answers (DDS discovery done both ways); a frame sent before that is lost or reported lost
        although answered.
        """
        pub = self._features_pub(self.params.values['server'] if server is None else server)
        return pub.get_subscription_count() > 0 and self.timing_sub.get_publisher_count() > 1

    def _ready(self) -> bool:
        v = self.params.values
        return v['split'] == self.model.num_layers or len(self.in_flight) < v['max_in_flight']

    # --- compute thread -----------------------------------------------------------------------
    def _compute_loop(self):
        torch.set_grad_enabled(False)
        while self._running:
            frame = self.slot.take(self._ready, timeout=0.2)
            if frame is not None:
                try:
                    self._process(frame)
                except ImageConversionError as e:
                    self._report(frame, Status.REJECTED, f'bad camera image: {e}')
                except Exception as e:  # noqa: BLE001 - a bad frame must not stop the node
                    self._report(frame, Status.FAILED, f'{type(e).__name__}: {e}')

    def _probe_for(self, seq: int, split: int, v: dict) -> int | None:
        probe = v['probe_split']
        if v['probe_every'] and seq % v['probe_every'] == 0 and probe >= 0 and probe != split:
            if probe == self.model.num_layers or self._cloud_matched(v['server']):
                return probe
        return None

    def _process(self, frame: Frame):
        v = self.params.values  # this frame's parameters, whatever the manager sets meanwhile
        split, n = v['split'], self.model.num_layers
        t0 = time.monotonic()
        queue_ms = frame.intake_ms + (t0 - frame.arrived) * 1e3
        x, meta = self.model.preprocess(self._to_rgb(frame.msg))
        t1 = time.monotonic()
        if split < n and not self._cloud_matched(v['server']):
            if not self._no_cloud_logged:
                self._no_cloud_logged = True
                self.get_logger().warn('no cloud matched on features and frame_timing; serving frames on the '
                                       'edge until one is')
            split = n
        probe = self._probe_for(frame.seq, split, v)
        timings: list[float] = []
        probe_live = None
        if probe is not None and probe < split:
            probe_live = self.model.head(x, probe, timings)
            live = self.model.advance(probe_live, probe, split, timings)
        else:
            live = self.model.head(x, split, timings)
        emulate_load(self.params, timings)
        t2 = time.monotonic()
        self.compute_ms = (t2 - t1) * 1e3
        pre_ms = (t1 - t0) * 1e3
        if split == n:
            self.results.publish(frame.msg.header, live[0], meta)
            self.counts[Status.OK] += 1
            self._edge_only_timing(frame, (queue_ms, pre_ms, self.compute_ms, (time.monotonic() - t2) * 1e3),
                                   timings)
        else:
            msg, t3 = self._features(frame, meta, split, live, timings, v)
            msg.edge_queue_ms, msg.edge_preprocess_ms, msg.edge_compute_ms = queue_ms, pre_ms, self.compute_ms
            msg.edge_encode_ms = (t3 - t2) * 1e3
            # in flight from now, not from when the sender thread publishes it: _ready() runs
            # first, and on a throttled robot it let a second frame onto the link
            self.in_flight.add(frame.seq, t3, (frame, msg.split))
            self.outbox.put((msg, t3, v['server']))
        if probe is not None:
            self._probe(frame, meta, (split, probe, v), live, probe_live, timings, t0, queue_ms, pre_ms)

    def _edge_only_timing(self, frame: Frame, edge: tuple, layer_ms: list[float], probe: bool = False):
        timing = timing_msg(frame.msg.header, frame.seq, self.model.fingerprint, self.model.num_layers, '',
                            int(Status.OK), edge=edge)
        timing.edge_layer_ms, timing.probe = layer_ms, probe
        self.timing_pub.publish(timing)

    def _features(self, frame: Frame, meta, split: int, live, layer_ms, v: dict, probe: bool = False):
        codec = v['input_codec'] if split == 0 else v['codec']
        wire = [codecs.encode(name, t, codec, v['jpeg_quality']) for name, t in zip(self.model.live_names(split), live)]
        msg = Features(header=frame.msg.header, frame_seq=frame.seq, model_fingerprint=self.model.fingerprint,
                       split=split, codec=codec, tensors=[wire_to_msg(w) for w in wire],
                       image_width=meta.width, image_height=meta.height, scale_x=meta.scale_x,
                       scale_y=meta.scale_y, pad_x=meta.pad_x, pad_y=meta.pad_y,
                       edge_layer_ms=list(layer_ms[:split]), probe=probe)
        return msg, time.monotonic()

    def _probe(self, frame, meta, splits, live, probe_live, timings, t0, queue_ms, pre_ms):
        """Measure the frame at another split too, without delaying its answer (``splits``: the frame's
        split, the probe's, and the frame's parameters).
        """
        split, probe, v = splits
        n = self.model.num_layers
        t_start = time.monotonic()
        if probe_live is None:  # a deeper split than the real one: run on from it
            probe_live = self.model.advance(live, split, probe, timings)
            emulate_load(self.params, timings, split)
        layer_ms = timings[:probe]
        compute = math.fsum(layer_ms)
        waited = queue_ms + (t_start - t0) * 1e3 - pre_ms
        if probe == n:
            self._edge_only_timing(frame, (waited, pre_ms, compute, 0.0), layer_ms, probe=True)
            return
        t_enc = time.monotonic()
        msg, t_done = self._features(frame, meta, probe, probe_live, layer_ms, v, probe=True)
        msg.edge_queue_ms, msg.edge_preprocess_ms, msg.edge_compute_ms = waited, pre_ms, compute
        msg.edge_encode_ms = (t_done - t_enc) * 1e3
        self.outbox.put((msg, t_done, v['server']))

    # --- sender thread ------------------------------------------------------------------------
    def _send_loop(self):
        while self._running:
            try:
                msg, ready, server = self.outbox.get(timeout=0.2)
            except queue.Empty:
                continue
            msg.edge_queue_ms += (time.monotonic() - ready) * 1e3
            self._features_pub(server).publish(msg)

    def _diagnostics(self):
        v = self.params.values
        lost, failed, rejected = self.counts[Status.LOST], self.counts[Status.FAILED], self.counts[Status.REJECTED]
        level = (ERROR if failed and failed >= self.counts[Status.OK] or self.latest_stamp_off
                 else WARN if lost or failed or rejected or self.stamps_off_clock else OK)
        message = (f'split {v["split"]}/{self.model.num_layers}'
                   + (f'; last error: {self.last_error}' if self.last_error else '')
                   + ('; camera stamps off this clock' if self.latest_stamp_off else ''))
        return level, message, {
            'model': self.model.name, 'fingerprint': self.model.fingerprint, 'split': v['split'], 'server': v['server'],
            'codec': v['codec'], 'cameras': self.image_sub.get_publisher_count(),
            'features_depth': self._features_pub(v['server']).qos_profile.depth,
            'cloud_matched': self._cloud_matched(), 'frames_in': self.frames_in,
            'stamps_off_clock': self.stamps_off_clock,
            'results_here': self.counts[Status.OK],
            'dropped_stale': self.counts[Status.DROPPED], 'lost': lost, 'failed': failed, 'rejected': rejected,
            'in_flight': len(self.in_flight), 'head_compute_ms': self.compute_ms}

    def destroy_node(self):
        """Stop the compute and sender threads (each finishes the frame in hand), then destroy the node."""
        self._running = False
        if self._threads:
            self.slot.close()
        for t in self._threads:
            t.join()
        super().destroy_node()


def main(args=None):
    """Run the edge node until shut down; returns the exit status (1 when it cannot start)."""
    return run(EdgeNode, args)


if __name__ == '__main__':
    raise SystemExit(main())
