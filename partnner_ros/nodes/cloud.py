"""Cloud (server) node: features in, tail [split, n) and post-processing, results out, for one
robot or several.

Each robot keeps its own namespace. With ``robots`` set, the node subscribes to
``<robot>/features`` and answers on ``<robot>/detections`` (or
``classification``), ``<robot>/frame_timing`` and ``<robot>/cloud_status`` for
each; unset, it serves its own namespace as one robot. One copy of the model
serves them all. Requests that resume at the same split are run as one batch
(up to ``max_batch``, waiting ``max_batch_wait_ms`` at most for company), and
every result goes back on its own robot's topics only.

Each feature message carries its own split, so any split is served for any
frame and a split change never mixes frames. Everything in a message is checked
(fingerprint, split, codec, tensor names, shapes and sizes) before it is used; a
bad message is rejected with a FrameTiming that says why, counted, and logged
once per kind, and the node keeps serving.

As a stage of a pipeline over several devices (``stop`` < num_layers), it runs
layers [split, stop) instead and forwards the live tensors at ``stop`` on
``features_out``, for the next stage; the last stage publishes the results.
"""

import re
import threading
import time

import torch
from rclpy.node import Node
from rclpy.parameter import Parameter

from ..core.adaptation.frames import Status
from ..core.adaptation.stats import RollingStats
from ..core.fleet.batching import BatchQueue, Request
from ..core.fleet.load import ServerLoad
from ..core.vision.preprocess import ImageMeta
from ..core.wire import codec as codecs
from ..core.wire import formats
from ..core.wire.feature_check import Rejected, check_features
from ..msg import CloudStatus, Features, FrameTiming
from . import qos
from .diagnostics import OK, WARN, Diagnostics
from .inference import ResultPublisher, declare_model, emulate_load
from .messages import msg_to_wire, timing_msg, wire_to_msg
from .params import Params, one_of, server_name
from .runner import run

NAMESPACE = re.compile(r'^[A-Za-z][A-Za-z0-9_]*(/[A-Za-z][A-Za-z0-9_]*)*$')


def check_robots(robots) -> str | None:
    """Why a ``robots`` list is unusable (not relative namespaces, or repeated), or None."""
    robots = list(robots or [])
    bad = [r for r in robots if not NAMESPACE.match(r)]
    if bad:
        return f'robot namespaces must be relative names like robot1 or fleet/robot1, got {bad}'
    return f'robots listed twice: {sorted({r for r in robots if robots.count(r) > 1})}' \
        if len(set(robots)) < len(robots) else None


class Robot:
    """One robot's endpoints on the server: its features in, its results, timings and heartbeats out."""

    def __init__(self, node: 'CloudNode', name: str):
        self.name = name
        prefix = f'{name}/' if name else ''
        if node.stop == node.model.num_layers:
            self.results = ResultPublisher(node, node.model, node.params, prefix)
        else:
            self.features_out = node.create_publisher(Features, prefix + 'features_out', qos.features(),
                                                      event_callbacks=qos.pub_events(node, prefix + 'features_out'))
        self.timing_pub = node.create_publisher(FrameTiming, prefix + 'frame_timing', qos.RESULTS,
                                                event_callbacks=qos.pub_events(node, prefix + 'frame_timing'))
        self.status_pub = node.create_publisher(CloudStatus, prefix + 'cloud_status', qos.HEARTBEAT)
        features = prefix + ('features/' + node.server if node.server else 'features')
        node.create_subscription(Features, features, lambda msg: node.enqueue(self, msg), qos.features(),
                                 event_callbacks=qos.sub_events(node, features))


class CloudNode(Node):
    """Serves ``features`` of one robot or of each of ``robots``: runs the model's tail, batched across robots, and
    publishes the results (or, as a pipeline stage, runs up to ``stop`` and forwards on ``features_out``), reports
    each frame on ``frame_timing`` and heartbeats its load on ``cloud_status``.
    """

    _worker: threading.Thread | None = None  # none when the node failed to start

    def __init__(self):
        super().__init__('cloud')
        p = self.params = Params(self)
        self.model = declare_model(p)
        n = self.model.num_layers
        self.stop = p.declare('stop', n, f'run layers up to this split: {n} (the end) publishes results; less '
                              'makes this a pipeline stage that forwards the live tensors there on features_out',
                              int_range=(1, n), read_only=True,
                              check=lambda v: None if v in self.model.cut_facts else 'not a usable split')
        robots = p.declare('robots', Parameter.Type.STRING_ARRAY, 'namespaces of the robots this server serves, '
                           'relative (robot1, ...); unset: its own namespace, one robot', read_only=True,
                           check=check_robots) or ['']
        p.declare('codec', 'fp16+lz4', 'codec of the forwarded tensors (pipeline stage only)',
                  check=one_of([c for c in formats.CODECS if c != formats.JPEG]))
        queue_size = p.declare('queue_size', 4, 'feature messages waiting per robot, at most (the oldest is '
                               'dropped when full)', int_range=(1, 64), read_only=True)
        max_batch = p.declare('max_batch', 4, 'requests resuming at the same split that run as one batch, at most',
                              int_range=(1, 64), read_only=True)
        wait_ms = p.declare('max_batch_wait_ms', 4.0, 'ms a request waits at most for others to batch with',
                            float_range=(0.0, 1000.0), read_only=True)
        self.server = p.declare('server', '', 'name of this server, for robots that choose among several: it then '
                                'serves <robot>/features/<server>; empty: <robot>/features', read_only=True,
                                check=server_name)
        period = p.declare('heartbeat_period', 0.1, 'seconds between CloudStatus heartbeats',
                           float_range=(0.01, 10.0), read_only=True)
        self.queue = BatchQueue(max_batch, wait_ms / 1e3, capacity=queue_size * len(robots))
        # a shared server starts by charging its time (robots arriving together must not all rush it); a private
        # one has nobody to share with
        self.load = ServerLoad(start=1.0 if len(robots) > 1 else 0.01)
        self.cond = threading.Condition()
        self.counts = {s: 0 for s in Status}
        self.rejections: dict[str, int] = {}
        self.last_error = ''
        self.ms_per_gweight = RollingStats(50)
        self.stage_ms = RollingStats(50)
        self.batch_size = RollingStats(50)
        self.robots = [Robot(self, name) for name in robots]
        self.create_timer(period, self._heartbeat)
        self.diagnostics = Diagnostics(self, self._diagnostics)
        self._running = True
        self._worker = threading.Thread(target=self._serve_loop, name='cloud-serve', daemon=True)
        self._worker.start()
        served = ', '.join(r.name for r in self.robots) if robots != [''] else 'its own namespace'
        self.get_logger().info(f'{self.model.name} ({self.model.fingerprint}), {n} layers, serving {served}')

    def enqueue(self, robot: Robot, msg) -> None:
        """Queue a robot's feature message (a full queue drops its oldest request, reported as DROPPED)."""
        with self.cond:
            # one batch, one input size: cameras of other sizes feed other shapes
            evicted = self.queue.push((robot, msg), (msg.split, msg.image_width, msg.image_height), time.monotonic(),
                                      probe=msg.probe)
            self.cond.notify()
        if evicted is not None:
            self._finish(*evicted.item, Status.DROPPED, 'cloud queue full: a newer frame arrived')

    def _serve_loop(self):
        torch.set_grad_enabled(False)
        while self._running:
            with self.cond:
                batch, wake = self.queue.take(time.monotonic())
                if not batch:
                    self.cond.wait(0.2 if wake is None else max(wake - time.monotonic(), 0.0))
                    continue
            self._serve(batch)

    def _serve(self, batch: list[Request]) -> None:
        t0 = time.monotonic()
        ready = []
        for req in batch:
            robot, msg = req.item
            try:
                check_features(self.model, msg, self.stop)
                shapes = self.model.live_shapes(msg.split, self.model.input_size_for(msg.image_width,
                                                                                     msg.image_height))
                ready.append((req, codecs.decode_all([msg_to_wire(t) for t in msg.tensors], list(shapes))))
            except (Rejected, formats.DecodeError) as e:
                self._finish(robot, msg, Status.REJECTED, str(e) if isinstance(e, Rejected)
                             else f'{type(e).__name__}: {e}')
        if not ready:
            return
        split, t1, layer_ms = ready[0][0].item[1].split, time.monotonic(), []
        try:
            live = ready[0][1] if len(ready) == 1 else [torch.cat(parts) for parts in zip(*(x for _, x in ready))]
            if self.stop < self.model.num_layers:
                output = self.model.advance(live, split, self.stop, layer_ms)
            else:
                output = self.model.tail(live, split, layer_ms)
            emulate_load(self.params, layer_ms)
        except Exception as e:  # noqa: BLE001 - one bad batch must not stop the server
            for req, _ in ready:
                self._finish(*req.item, Status.FAILED, f'{type(e).__name__}: {e}')
            return
        t2 = time.monotonic()
        self.load.served(t0, t2, [((t0 - req.arrived_s) * 1e3, req.item[0].name) for req, _ in ready])
        self.batch_size.add(len(ready))
        weight = self.model.cut_facts[split].tail_weight
        if weight > 0:
            self.ms_per_gweight.add((t2 - t1) * 1e3 / len(ready) / (weight / 1e9))
        for i, (req, _) in enumerate(ready):
            self._answer(req, output if len(ready) == 1 else _item(output, i), (t0, t1, t2), layer_ms)

    def _answer(self, req: Request, output, times, layer_ms) -> None:
        """Publish one request's result (or forward it, as a pipeline stage) and its timing."""
        (robot, msg), (t0, t1, t2) = req.item, times
        if self.stop < self.model.num_layers:
            self._forward(robot, msg, output)
            self.counts[Status.OK] += 1
            self.stage_ms.add((t2 - t0) * 1e3)
            return
        if not msg.probe:
            meta = ImageMeta(msg.image_width, msg.image_height, msg.scale_x, msg.scale_y, msg.pad_x, msg.pad_y)
            robot.results.publish(msg.header, output, meta)
        t3 = time.monotonic()
        self._finish(robot, msg, Status.OK, '', cloud=((t0 - req.arrived_s) * 1e3, (t1 - t0) * 1e3,
                                                       (t2 - t1) * 1e3, (t3 - t2) * 1e3), layer_ms=layer_ms)

    def _forward(self, robot: Robot, msg, live) -> None:
        """Pass the frame on to the next stage: the same message at split ``stop``."""
        codec = self.params.values['codec']
        names = self.model.live_names(self.stop)
        msg.tensors = [wire_to_msg(codecs.encode(name, t, codec)) for name, t in zip(names, live)]
        msg.split, msg.codec = self.stop, codec
        robot.features_out.publish(msg)

    def _finish(self, robot: Robot, msg, status: Status, error: str, cloud=(0.0, 0.0, 0.0, 0.0), layer_ms=()):
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
        robot.timing_pub.publish(timing)

    def _heartbeat(self):
        state = self.load.update(time.monotonic(), len(self.queue))
        msg = CloudStatus(model=self.model.name, model_fingerprint=self.model.fingerprint,
                          num_layers=self.model.num_layers, queue_depth=state.queue_depth,
                          frames_served=self.counts[Status.OK],
                          frames_rejected=self.counts[Status.REJECTED] + self.counts[Status.FAILED],
                          ms_per_gweight=self.ms_per_gweight.mean, server=self.server,
                          node=self.get_fully_qualified_name(), wait_ms=state.wait_ms,
                          utilisation=state.utilisation, price=state.price, robots=state.robots,
                          max_batch=self.queue.max_batch)
        msg.header.stamp = self.get_clock().now().to_msg()
        for robot in self.robots:
            robot.status_pub.publish(msg)

    def _diagnostics(self):
        bad = self.counts[Status.REJECTED] + self.counts[Status.FAILED]
        return (WARN if bad else OK), (f'last error: {self.last_error}' if self.last_error else 'serving'), {
            'model': self.model.name, 'fingerprint': self.model.fingerprint, 'robots': len(self.robots),
            'served': self.counts[Status.OK], 'rejected': self.counts[Status.REJECTED],
            'failed': self.counts[Status.FAILED], 'dropped_queue_full': self.counts[Status.DROPPED],
            'queue_depth': len(self.queue), 'ms_per_gweight': self.ms_per_gweight.mean,
            'mean_batch': self.batch_size.mean, 'price': self.load.price,
            'timing_readers': min(r.timing_pub.get_subscription_count() for r in self.robots),
            **({'stage': f'layers up to split {self.stop}', 'stage_ms': self.stage_ms.mean}
               if self.stop < self.model.num_layers else {}),
            **{f'rejected[{k}]': v for k, v in self.rejections.items()}}

    def destroy_node(self):
        """Stop the serving thread (it finishes the batch in hand), then destroy the node."""
        self._running = False
        if self._worker is not None:
            with self.cond:
                self.cond.notify_all()
            self._worker.join()
        super().destroy_node()


def _item(output, i: int):
    """Request i's share of a batch's output: every tensor sliced to row i, keeping the batch dimension."""
    if isinstance(output, torch.Tensor):
        return output[i:i + 1]
    if isinstance(output, (list, tuple)):
        return type(output)(_item(o, i) for o in output)
    if isinstance(output, dict):
        return {k: _item(v, i) for k, v in output.items()}
    return output


def main(args=None):
    """Run the cloud node until shut down; returns the exit status (1 when it cannot start)."""
    return run(CloudNode, args)


if __name__ == '__main__':
    raise SystemExit(main())
