"""Fuzzing over DDS: 10,000 malformed Features messages at the cloud and 1,000 malformed camera images at
the edge. Nothing crashes, every one gets a verdict that says why, the kinds counted stay few (the
diagnostics do not grow with what senders write), and the next good frame is served."""

import numpy as np
import pytest
from ros_system import System
from sensor_msgs.msg import Image

from partnner_ros.core.adaptation.frames import Status
from partnner_ros.core.wire import codec
from partnner_ros.msg import Features
from partnner_ros.nodes.image_conversion import array_to_image
from partnner_ros.nodes.messages import wire_to_msg

MODEL = 'resnet18'
FEATURE_CASES = 10_000
IMAGE_CASES = 1_000
WINDOW = 16  # messages without a verdict yet (the cloud's queue holds more: none is dropped)


@pytest.fixture(scope='module')
def system(ros, tmp_path_factory):
    s = System(tmp_path_factory.mktemp('logs'), model=MODEL, threads=1)
    s.start('cloud', queue_size=64)
    s.start('edge')
    s.start('partition_manager', policy='fixed', split=0)
    try:
        s.wait_ready(split=0)
        yield s
    finally:
        s.stop()


def copy(msg, **fields):
    out = type(msg)(**{f: getattr(msg, f) for f in msg.get_fields_and_field_types()})
    for name, value in fields.items():
        setattr(out, name, value)
    return out


class FeatureFuzzer:
    """Malformed variants of good Features messages, each wrong in one way (that is never harmless)."""

    def __init__(self, model, rgb, seed=0):
        self.model, self.rng = model, np.random.default_rng(seed)
        x, meta = model.preprocess(rgb)
        inner = [k for k in model.cut_facts if 0 < k < model.num_layers]
        self.split = min(inner, key=lambda k: model.cut_facts[k].elements)  # small tensors: fast to send
        self.bases = {c: self._message(x, meta, 0 if c == 'jpeg' else self.split, c)
                      for c in ('fp16', 'fp32', 'int8+zstd', 'fp16+lz4', 'jpeg')}
        self.cases = [getattr(self, name) for name in dir(self) if name.startswith('case_')]

    def _message(self, x, meta, split, name):
        live = [x] if split == 0 else self.model.head(x, split)
        return Features(model_fingerprint=self.model.fingerprint, split=split, codec=name,
                        tensors=[wire_to_msg(codec.encode(n, t, name)) for n, t in zip(self.model.live_names(split),
                                                                                      live)],
                        image_width=meta.width, image_height=meta.height, scale_x=meta.scale_x,
                        scale_y=meta.scale_y, pad_x=meta.pad_x, pad_y=meta.pad_y)

    def good(self):
        return self.bases['fp16+lz4']

    def __call__(self, i):
        return self.cases[i % len(self.cases)]()

    def _pick(self, values):
        return values[int(self.rng.integers(len(values)))]

    def _tensor(self, base, **fields):
        msg = copy(self.bases[base])
        msg.tensors = [copy(msg.tensors[0], **fields)]
        return msg

    def _text(self):
        return ''.join(chr(c) for c in self.rng.integers(32, 127, int(self.rng.integers(1, 40))))

    def case_fingerprint(self):
        return copy(self.good(), model_fingerprint=self.rng.bytes(8).hex())

    def case_split(self):
        unusable = [k for k in range(self.model.num_layers + 1) if k not in self.model.cut_facts or
                    k == self.model.num_layers]
        return copy(self.good(), split=int(self._pick(unusable + [int(self.rng.integers(1000, 65536))])))

    def case_codec(self):
        return copy(self.good(), codec=self._text())

    def case_tensor_name(self):
        return self._tensor('fp16+lz4', name=self._text())

    def case_tensor_count(self):
        msg = self.good()
        return copy(msg, tensors=self._pick([[], list(msg.tensors) * int(self.rng.integers(2, 20))]))

    def case_dtype(self):
        return self._tensor('fp16+lz4', dtype=self._text())

    def case_shape(self):
        t = self.good().tensors[0]
        while True:
            shape = [int(d) for d in self.rng.integers(0, 2**20, int(self.rng.integers(1, 10)))]
            if shape != list(t.shape):
                return self._tensor('fp16+lz4', shape=shape)

    def case_raw_size(self):
        t = self.good().tensors[0]
        return self._tensor('fp16+lz4', raw_size=int(t.raw_size) + int(self.rng.integers(1, 2**30)))

    def case_truncated(self):
        base = self._pick(['fp16', 'fp16+lz4', 'int8+zstd'])
        data = bytes(self.bases[base].tensors[0].data)
        return self._tensor(base, data=data[:int(self.rng.integers(0, len(data)))])

    def case_garbage(self):
        base = self._pick(['fp16', 'fp16+lz4', 'int8+zstd', 'jpeg'])
        size = len(self.bases[base].tensors[0].data)
        data = self.rng.bytes(size)
        if base == 'fp16':  # every other value not finite, wherever the garbage puts them
            data = bytes(b for pair in zip(data[::2], b'\x7c' * size) for b in pair)[:size]
        return self._tensor(base, data=data)

    def case_not_finite(self):
        t = self.bases['fp32'].tensors[0]
        values = np.frombuffer(bytes(t.data), np.float32).copy()
        values[int(self.rng.integers(len(values)))] = self._pick([np.nan, np.inf, -np.inf, 1e30])
        return self._tensor('fp32', data=values.tobytes())

    def case_quantisation(self):
        return self._tensor('int8+zstd', **self._pick([{'scale': self._pick([0.0, -1.0, 1e30, np.inf, np.nan])},
                                                      {'zero_point': int(self.rng.integers(128, 2**31))}]))

    def case_jpeg_bomb(self):
        data = bytearray(self.bases['jpeg'].tensors[0].data)
        at = data.index(b'\xff\xc0') + 5
        side = int(self.rng.integers(5000, 65536))
        data[at:at + 4] = side.to_bytes(2, 'big') + side.to_bytes(2, 'big')
        return self._tensor('jpeg', data=bytes(data))

    def case_image_metadata(self):
        field, values = self._pick([('image_width', [0, 2**32 - 1, 70_000]), ('image_height', [0, 2**31]),
                                    ('scale_x', [np.nan, np.inf, 0.0, -2.0, 1e9]), ('scale_y', [np.nan, -np.inf]),
                                    ('pad_x', [np.nan, np.inf, 1e9]), ('pad_y', [-np.inf, -1e9])])
        return copy(self.good(), **{field: self._pick(values)})

    def case_durations(self):
        field = self._pick(['edge_queue_ms', 'edge_preprocess_ms', 'edge_compute_ms', 'edge_encode_ms'])
        return copy(self.good(), **{field: self._pick([np.nan, np.inf, -1.0, 1e12])})


def test_ten_thousand_malformed_features_are_each_rejected_with_a_reason(system, get_model, photos):
    fuzz = FeatureFuzzer(get_model(MODEL), photos[0])
    pub = system.features_publisher(copy(fuzz.good(), frame_seq=900_001))
    first, before = 1_000_000, len(system.timings)
    for i in range(FEATURE_CASES):
        system.spin_until(lambda sent=i: sent - (len(system.timings) - before) < WINDOW, 30, f'verdicts before {i}')
        msg = fuzz(i)
        msg.frame_seq = first + i
        pub.publish(msg)
    system.spin_until(lambda: all(first + i in system.timings for i in range(FEATURE_CASES)), 60, 'every verdict')
    verdicts = [system.timings[first + i] for i in range(FEATURE_CASES)]
    wrong = [(i, v.status, v.error) for i, v in enumerate(verdicts) if v.status != Status.REJECTED or not v.error]
    assert not wrong, wrong[:10]
    assert system.procs['cloud'].poll() is None
    system.spin_until(lambda: int(system.diagnostic('cloud').get('rejected', 0)) >= FEATURE_CASES, 10,
                      'the cloud to count them')
    kinds = [k for k in system.diagnostic('cloud') if k.startswith('rejected[')]
    assert 5 <= len(kinds) <= 20, kinds
    log = next(system.log_dir.glob('cloud-*.log')).read_text()
    assert log.count('rejected:') == len(kinds) and 'Traceback' not in log
    start = len(system.sent_headers)
    system.run_frames([photos[1]])
    assert system.timings[start].status == Status.OK


def malformed_image(rng, rgb):
    good = dict(height=rgb.shape[0], width=rgb.shape[1], encoding='rgb8', step=rgb.shape[1] * 3,
                data=rgb.tobytes())
    field, value = [('encoding', ''.join(chr(c) for c in rng.integers(97, 123, 6))), ('width', 0),
                    ('height', 0), ('step', int(rng.integers(0, rgb.shape[1] * 3))),
                    ('width', int(rng.integers(rgb.shape[1] + 1, 2**31))),
                    ('height', int(rng.integers(rgb.shape[0] + 1, 2**31))),
                    ('data', rgb.tobytes()[:int(rng.integers(0, rgb.size))])][int(rng.integers(7))]
    return Image(**{**good, field: value})


def test_a_thousand_malformed_camera_images_are_each_rejected_with_a_reason(system, photos):
    rng = np.random.default_rng(1)
    rgb = np.ascontiguousarray(photos[0][:120, :160])
    first = len(system.timings)
    for i in range(IMAGE_CASES):
        msg = malformed_image(rng, rgb)
        msg.header.stamp = system.node.get_clock().now().to_msg()
        system.image_pub.publish(msg)
        system.sent_headers.append(msg.header)
        system.spin_until(lambda n=first + i + 1: len(system.timings) >= n, 10, f'the verdict on image {i}')
    verdicts = list(system.timings.values())[-IMAGE_CASES:]
    wrong = [(v.status, v.error) for v in verdicts if v.status != Status.REJECTED
             or not v.error.startswith('bad camera image: ')]
    assert not wrong, wrong[:10]
    system.spin_until(lambda: int(system.diagnostic('edge').get('rejected', 0)) >= IMAGE_CASES, 10,
                      'the edge to count them')
    start = len(system.sent_headers)
    system.run_frames([photos[1]])
    assert system.timings[start].status == Status.OK


def test_camera_stamps_off_the_robots_clock_are_reported_once_and_the_frames_served(system, photos):
    first = len(system.sent_headers)
    for i in range(2):
        msg = array_to_image(photos[1], 'rgb8')  # the stamp left at zero, as some camera drivers leave it
        system.image_pub.publish(msg)
        system.sent_headers.append(msg.header)
        system.spin_until(lambda seq=first + i: seq in system.timings, 30, f'the outcome of frame {i}')
    assert [system.timings[first + i].status for i in range(2)] == [Status.OK, Status.OK]
    # the edge's own wait is not counted from 1970
    assert all(system.timings[first + i].edge_ms < 10_000 for i in range(2))
    system.spin_until(lambda: system.diagnostic('edge').get('stamps_off_clock') == '2', 10,
                      'the edge to count the stamps')
    log = next(system.log_dir.glob('edge-*.log')).read_text()
    assert log.count("off this node's clock") == 1
