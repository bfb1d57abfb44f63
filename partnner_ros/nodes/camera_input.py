"""The camera topic of the camera source, the edge and the overlay: raw ``image_raw``, or its
compressed transport ``<image_raw as remapped>/compressed``, as image_transport names them.
"""

import cv2
from sensor_msgs.msg import CompressedImage, Image

from . import qos
from .image_conversion import array_to_image, compressed_to_rgb8, image_to_rgb8
from .params import Params, one_of

TRANSPORTS = ('raw', 'compressed')
JPEG_FORMAT = 'rgb8; jpeg compressed bgr8'  # as image_transport's compressed plugin says it


def declare_transport(p: Params) -> str:
    """Declare ``image_transport`` (read-only) and return it."""
    return p.declare('image_transport', 'raw', 'raw: the camera is image_raw (sensor_msgs/Image); compressed: '
                     '<image_raw>/compressed (sensor_msgs/CompressedImage, JPEG or PNG), after any remapping of '
                     'image_raw, as image_transport names it', read_only=True, check=one_of(TRANSPORTS))


def camera_topic(node, transport: str) -> tuple[str, type]:
    """The camera's topic and message type for ``transport``."""
    if transport == 'compressed':
        # a remapping applies to whole names: image_raw:=/camera/image must move the compressed topic too
        return node.resolve_topic_name('image_raw') + '/compressed', CompressedImage
    return 'image_raw', Image


def subscribe_camera(node, transport: str, callback):
    """Subscribe ``callback`` to the camera with sensor-data QoS; the subscription and the function that
    turns its messages into RGB arrays.
    """
    topic, msg_type = camera_topic(node, transport)
    sub = node.create_subscription(msg_type, topic, callback, qos.IMAGE_SUB,
                                   event_callbacks=qos.sub_events(node, topic))
    return sub, compressed_to_rgb8 if msg_type is CompressedImage else image_to_rgb8


def advertise_camera(node, transport: str):
    """A camera publisher; the publisher and the function that makes its message of an RGB array and
    an encoding (bgr8 or rgb8; a compressed image is always a JPEG of the BGR bytes).
    """
    topic, msg_type = camera_topic(node, transport)
    pub = node.create_publisher(msg_type, topic, qos.IMAGE_PUB, event_callbacks=qos.pub_events(node, topic))
    if msg_type is CompressedImage:
        def to_msg(rgb, encoding):
            _, data = cv2.imencode('.jpg', cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
            return CompressedImage(format=JPEG_FORMAT, data=data.tobytes())
        return pub, to_msg

    def to_raw(rgb, encoding):
        return array_to_image(cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR) if encoding == 'bgr8' else rgb, encoding)
    return pub, to_raw
