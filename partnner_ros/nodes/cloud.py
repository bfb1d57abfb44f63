"""Cloud (server) node: features in, tail [split, n) and post-processing, results out.

Each feature message carries its own split, so any split is served for any
frame and a split change never mixes frames. Everything in a message is checked
(fingerprint, split, codec, tensor names, shapes and sizes) before it is used; a
bad message is rejected with a FrameTiming that says why, counted, and logged
once per kind, and the node keeps serving.

As a stage of a pipeline over several devices (``stop`` < num_layers), it runs
layers [split, stop) instead and forwards the live tensors at ``stop`` on
``features_out``, for the next stage; the last stage publishes the results.
"""

import threading
import time
from collections import deque

import torch
from rclpy.node import Node

from ..core.adaptation.frames import Status
from ..core.adaptation.stats import RollingStats
from ..core.vision.preprocess import ImageMeta
from ..core.wire import codec as codecs
from ..core.wire import formats
from ..core.wire.feature_check import Rejected, check_features
from ..msg import CloudStatus, Features, FrameTiming
from . import qos
from .diagnostics import OK, WARN, Diagnostics
from .inference import ResultPublisher, declare_model, emulate_load
from .messages import msg_to_wire, timing_msg, wire_to_msg
from .params import Params, one_of
from .runner import run


class CloudNode(Node):
    """Serves ``features``: runs the model's tail and publishes the results (or, as a pipeline stage, runs up
    to ``stop`` and forwards on ``features_out``), reports each frame on ``frame_timing`` and heartbeats on
    ``cloud_status``.
    """

    def __init__(self):
        super().__init__('cloud')
        p = self.params = Params(self)
        self.model = declare_model(p)
        n = self.model.num_layers
        self.stop = p.declare('stop', n, f'run layers up to this split: {n} (the end) publishes results; less '
                              'makes this a pipeline stage that forwards the live tensors there on features_out',
                              int_range=(1, n), read_only=True,
                              check=lambda v: None if v in self.model.cut_facts else 'not a usable split')
        p.declare('codec', 'fp16+lz4', 'codec of the forwarded tensors (pipeline stage only)',
                  check=one_of([c for c in formats.CODECS if c != formats.JPEG]))
        p.declare('queue_size', 4, 'feature messages waiting to be served, at most; the oldest is dropped '
                  'when full', int_range=(1, 64))
        period = p.declare('heartbeat_period', 0.1, 'seconds between CloudStatus heartbeats',
                           float_range=(0.01, 10.0), read_only=True)
        self.queue: deque = deque()
        self.cond = threading.Condition()
        self.counts = {s: 0 for s in Status}
        self.rejections: dict[str, int] = {}
        self.last_error = ''
        self.ms_per_gweight = RollingStats(50)
        self.stage_ms = RollingStats(50)

        if self.stop == n:
            self.results = ResultPublisher(self, self.model, p)
        else:
            self.features_out = self.create_publisher(Features, 'features_out', qos.FEATURES,
                                                      event_callbacks=qos.pub_events(self, 'features_out'))
        self.timing_pub = self.create_publisher(FrameTiming, 'frame_timing', qos.RESULTS,
                                                event_callbacks=qos.pub_events(self, 'frame_timing'))
        self.status_pub = self.create_publisher(CloudStatus, 'cloud_status', qos.HEARTBEAT)
        self.create_subscription(Features, 'features', self._on_features, qos.FEATURES,
                                 event_callbacks=qos.sub_events(self, 'features'))
        self.create_timer(period, self._heartbeat)
        self.diagnostics = Diagnostics(self, self._diagnostics)
        self._running = True
        self._worker = threading.Thread(target=self._serve_loop, name='cloud-serve', daemon=True)
        self._worker.start()
        self.get_logger().info(f'{self.model.name} ({self.model.fingerprint}), {self.model.num_layers} layers')

    def _on_features(self, msg):
        with self.cond:
            self.queue.append((msg, time.monotonic()))
            evicted = self.queue.popleft() if len(self.queue) > self.params.values['queue_size'] else None
            self.cond.notify()
        if evicted is not None:
            self._finish(evicted[0], Status.DROPPED, 'cloud queue full: a newer frame arrived')

    def _serve_loop(self):
        torch.set_grad_enabled(False)
        while self._running:
            with self.cond:
                if not self.queue:
                    self.cond.wait(0.2)
                    continue
                msg, arrived = self.queue.popleft()
            try:
                self._serve(msg, arrived)
            except Rejected as e:
                self._finish(msg, Status.REJECTED, str(e))
            except formats.DecodeError as e:
                self._finish(msg, Status.REJECTED, f'{type(e).__name__}: {e}')
            except Exception as e:  # noqa: BLE001 - one bad frame must not stop the server
                self._finish(msg, Status.FAILED, f'{type(e).__name__}: {e}')

    def _serve(self, msg, arrived):
        t0 = time.monotonic()
        check_features(self.model, msg, self.stop)
        live = codecs.decode_all([msg_to_wire(t) for t in msg.tensors], list(self.model.live_shapes(msg.split)))
        t1 = time.monotonic()
        layer_ms: list[float] = []
        if self.stop < self.model.num_layers:
            live = self.model.advance(live, msg.split, self.stop, layer_ms)
            emulate_load(self.params, layer_ms)
            self._forward(msg, live)
            self.counts[Status.OK] += 1
            self.stage_ms.add((time.monotonic() - t0) * 1e3)
            return
        output = self.model.tail(live, msg.split, layer_ms)
        emulate_load(self.params, layer_ms)
        t2 = time.monotonic()
        if not msg.probe:
            meta = ImageMeta(msg.image_width, msg.image_height, msg.scale_x, msg.scale_y, msg.pad_x, msg.pad_y)
            self.results.publish(msg.header, output, meta)
        t3 = time.monotonic()
        weight = self.model.cut_facts[msg.split].tail_weight
        if weight > 0:
            self.ms_per_gweight.add((t2 - t1) * 1e3 / (weight / 1e9))
        self._finish(msg, Status.OK, '', cloud=((t0 - arrived) * 1e3, (t1 - t0) * 1e3, (t2 - t1) * 1e3,
                                                 (t3 - t2) * 1e3), layer_ms=layer_ms)

    def _forward(self, msg, live) -> None:
        """Pass the frame on to the next stage: the same message at split ``stop``."""
        codec = self.params.values['codec']
        names = self.model.live_names(self.stop)
        msg.tensors = [wire_to_msg(codecs.encode(name, t, codec)) for name, t in zip(names, live)]
        msg.split, msg.codec = self.stop, codec
        self.features_out.publish(msg)

    def _finish(self, msg, status: Status, error: str, cloud=(0.0, 0.0, 0.0, 0.0), layer_ms=()):
        if not msg.probe:
            self.counts[status] += 1
        if error:
            self.last_error = error
            kind = error.split(':')[0]
            self.rejections[kind] = self.rejections.get(kind, 0) + 1
            if self.rejections[kind] == 1:
                self.get_logger().error(f'frame {msg.frame_seq} rejected: {error} '
                                        '(counted; further such errors are not logged)')
        timing = timing_msg(msg.header, msg.frame_seq, msg.model_fingerprint, msg.split, msg.codec, int(status),
                            error, sum(len(t.data) for t in msg.tensors),
                            edge=(msg.edge_queue_ms, msg.edge_preprocess_ms, msg.edge_compute_ms,
                                  msg.edge_encode_ms), cloud=cloud)
        timing.edge_layer_ms, timing.cloud_layer_ms, timing.probe = msg.edge_layer_ms, layer_ms, msg.probe
        self.timing_pub.publish(timing)

    def _heartbeat(self):
        msg = CloudStatus(model=self.model.name, model_fingerprint=self.model.fingerprint,
                          num_layers=self.model.num_layers, queue_depth=len(self.queue),
                          frames_served=self.counts[Status.OK],
                          frames_rejected=self.counts[Status.REJECTED] + self.counts[Status.FAILED],
                          ms_per_gweight=self.ms_per_gweight.mean)
        msg.header.stamp = self.get_clock().now().to_msg()
        self.status_pub.publish(msg)

    def _diagnostics(self):
        bad = self.counts[Status.REJECTED] + self.counts[Status.FAILED]
        return (WARN if bad else OK), (f'last error: {self.last_error}' if self.last_error else 'serving'), {
            'model': self.model.name, 'fingerprint': self.model.fingerprint,
            'served': self.counts[Status.OK], 'rejected': self.counts[Status.REJECTED],
            'failed': self.counts[Status.FAILED], 'dropped_queue_full': self.counts[Status.DROPPED],
            'queue_depth': len(self.queue), 'ms_per_gweight': self.ms_per_gweight.mean,
            **({'stage': f'layers up to split {self.stop}', 'stage_ms': self.stage_ms.mean}
               if self.stop < self.model.num_layers else {}),
            **{f'rejected[{k}]': v for k, v in self.rejections.items()}}

    def destroy_node(self):
        """Stop the serving thread (waiting up to 2 s for it), then destroy the node."""
        self._running = False
        with self.cond:
            self.cond.notify_all()
        self._worker.join(timeout=2.0)
        super().destroy_node()


def main(args=None):
    """Run the cloud node until shut down; returns the exit status (1 when it cannot start)."""
    return run(CloudNode, args)


if __name__ == '__main__':
    raise SystemExit(main())
