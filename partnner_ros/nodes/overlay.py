"""Overlay node: draws detections (boxes and labels) or the top classes onto the
camera frame they belong to, and publishes the annotated image for rviz2's Image
display. The output keeps the camera header. Results are matched to frames by
their header stamp, so late results still land on the right frame.
"""

import zlib
from collections import OrderedDict

import cv2
import numpy as np
from rclpy.node import Node
from sensor_msgs.msg import Image

from ..msg import Classification, Detection2DArray
from . import qos
from .camera_input import declare_transport, subscribe_camera
from .diagnostics import OK, WARN, Diagnostics
from .image_conversion import ImageConversionError, array_to_image
from .params import Params
from .runner import run

PALETTE = [(255, 56, 56), (72, 249, 10), (31, 112, 255), (255, 178, 29), (207, 210, 49), (146, 204, 23),
           (61, 219, 134), (26, 147, 52), (0, 212, 187), (44, 153, 168), (0, 194, 255), (52, 69, 147)]


def _key(header):
    return header.stamp.sec, header.stamp.nanosec


def _label(image, text, x, y, color):
    (w, h), base = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, 0.5, 1)
    y = max(y, h + base)
    cv2.rectangle(image, (x, y - h - base), (x + w, y), color, -1)
    cv2.putText(image, text, (x, y - base), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (255, 255, 255), 1, cv2.LINE_AA)


def draw_detections(image: np.ndarray, msg: Detection2DArray) -> np.ndarray:
    """A copy of the RGB ``image`` with each detection's box and ``class score`` label, coloured by class."""
    out = image.copy()
    for det in msg.detections:
        hyp = det.results[0].hypothesis if det.results else None
        color = PALETTE[zlib.crc32((hyp.class_id if hyp else '').encode()) % len(PALETTE)]
        cx, cy = det.bbox.center.position.x, det.bbox.center.position.y
        x1, y1 = int(cx - det.bbox.size_x / 2), int(cy - det.bbox.size_y / 2)
        x2, y2 = int(cx + det.bbox.size_x / 2), int(cy + det.bbox.size_y / 2)
        cv2.rectangle(out, (x1, y1), (x2, y2), color, 2)
        if hyp:
            _label(out, f'{hyp.class_id} {hyp.score:.2f}', x1, y1, color)
    return out


def draw_classes(image: np.ndarray, msg: Classification) -> np.ndarray:
    """A copy of the RGB ``image`` with one ``class score`` line per class, top left."""
    out = image.copy()
    for i, r in enumerate(msg.results):
        _label(out, f'{r.class_id} {r.score:.2f}', 4, 22 + 22 * i, PALETTE[i % len(PALETTE)])
    return out


class Overlay(Node):
    """Draws ``detections`` or ``classification`` onto the matching camera frame (by header stamp; raw or
    compressed, as ``image_transport`` says) and publishes it, raw, on ``overlay``.
    """

    def __init__(self):
        super().__init__('overlay')
        p = self.params = Params(self)
        p.declare('image_cache', 30, 'camera frames kept while waiting for their results', int_range=(1, 1000))
        transport = declare_transport(p)
        self.images: OrderedDict = OrderedDict()
        self.published = 0
        self.unmatched = 0
        self.bad_images = 0
        self.pub = self.create_publisher(Image, 'overlay', qos.IMAGE_PUB,
                                         event_callbacks=qos.pub_events(self, 'overlay'))
        self.image_sub, self._to_rgb = subscribe_camera(self, transport, self._on_image)
        self.create_subscription(Detection2DArray, 'detections', lambda m: self._on_result(m, draw_detections),
                                 qos.RESULTS, event_callbacks=qos.sub_events(self, 'detections'))
        self.create_subscription(Classification, 'classification', lambda m: self._on_result(m, draw_classes),
                                 qos.RESULTS, event_callbacks=qos.sub_events(self, 'classification'))
        self.diagnostics = Diagnostics(self, lambda: (WARN if self.bad_images else OK, 'drawing', {
            'published': self.published, 'results_without_frame': self.unmatched,
            'bad_images': self.bad_images}))

    def _on_image(self, msg):
        self.images[_key(msg.header)] = msg
        while len(self.images) > self.params.values['image_cache']:
            self.images.popitem(last=False)

    def _on_result(self, result, draw):
        image_msg = self.images.pop(_key(result.header), None)
        if image_msg is None:
            self.unmatched += 1
            return
        try:
            rgb = self._to_rgb(image_msg)
        except ImageConversionError as e:
            if not self.bad_images:
                self.get_logger().error(f'cannot draw on camera image: {e} (counted; not logged again)')
            self.bad_images += 1
            return
        self.pub.publish(array_to_image(draw(rgb, result), 'rgb8', image_msg.header))
        self.published += 1


def main(args=None):
    """Run the overlay node until shut down; returns the exit status (1 when it cannot start)."""
    return run(Overlay, args)


if __name__ == '__main__':
    raise SystemExit(main())
