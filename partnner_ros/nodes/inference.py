"""What the edge and the cloud nodes share: model parameters and result publishing."""

import time

import torch

from ..core.model.zoo import load_model
from ..core.vision.postprocess import DetectionSettings
from ..core.vision.preprocess import ImageMeta
from ..msg import Classification, Detection2DArray
from . import qos
from .messages import classification_msg, detections_msg


def declare_model(params):
    """Declare the read-only model parameters, load the model, and expose its identity."""
    p = params
    name = p.declare('model', 'yolov8n', 'zoo name, torchvision classifier name, or ultralytics .pt/.yaml path',
                     read_only=True)
    weights = p.declare('weights', '', 'local weights file; empty: seeded random weights (never downloads)',
                        read_only=True)
    seed = p.declare('seed', 0, 'seed of the random weights; edge and cloud must agree', read_only=True,
                     int_range=(0, 2 ** 31 - 1))
    imgsz = p.declare('imgsz', 0, "model input size in pixels; 0: the model's own", read_only=True,
                      int_range=(0, 4096))
    threads = p.declare('threads', 0, 'torch CPU threads; 0: torch default', read_only=True, int_range=(0, 256))
    if threads:
        torch.set_num_threads(threads)
    model = load_model(name, weights=weights or None, seed=seed, input_size=imgsz or None)
    p.declare('model_fingerprint', model.fingerprint, 'hash of architecture, weights and input size (set by '
              'the node)', read_only=True)
    p.declare('num_layers', model.num_layers, 'layers of the model; split = num_layers is edge-only (set by '
              'the node)', read_only=True)
    p.declare('layer_delay_ms', 0.0, 'milliseconds added to every layer this node runs, to emulate a slower or '
              'loaded machine without CPU quotas (experiments and tests; 0 in production)',
              float_range=(0.0, 1000.0))
    p.declare('conf', 0.25, 'detection confidence threshold', float_range=(0.0, 1.0))
    p.declare('iou', 0.7, 'NMS IoU threshold (0.7: as ultralytics predict)', float_range=(0.0, 1.0))
    p.declare('max_det', 300, 'most detections per frame', int_range=(1, 10000))
    p.declare('top_k', 5, 'classes reported per frame by classifiers', int_range=(1, 1000))
    return model


def emulate_load(params, layer_ms: list[float], since: int = 0) -> None:
    """Sleep ``layer_delay_ms`` for each layer timed in ``layer_ms[since:]``, and add it to their times."""
    delay = params.values['layer_delay_ms']
    if delay > 0 and len(layer_ms) > since:
        time.sleep(delay * (len(layer_ms) - since) / 1e3)
        layer_ms[since:] = [ms + delay for ms in layer_ms[since:]]


class ResultPublisher:
    """Publishes ``detections`` (Detection2DArray) or ``classification`` for the model's task, under ``prefix``
    (a robot's namespace, relative, with its trailing slash; '' for the node's own).
    """

    def __init__(self, node, model, params, prefix: str = ''):
        self.model, self.params = model, params
        self.topic = prefix + ('detections' if model.task == 'detect' else 'classification')
        kind = Detection2DArray if model.task == 'detect' else Classification
        self.pub = node.create_publisher(kind, self.topic, qos.RESULTS,
                                         event_callbacks=qos.pub_events(node, self.topic))

    def publish(self, header, output, meta: ImageMeta) -> None:
        """Postprocess the model's output (boxes mapped back to the image through ``meta``, with the current
        conf/iou/max_det or top_k parameters) and publish it under ``header``.
        """
        v = self.params.values
        if self.model.task == 'detect':
            settings = DetectionSettings(conf=v['conf'], iou=v['iou'], max_det=v['max_det'])
            dets = self.model.postprocess(output, meta, settings)
            self.pub.publish(detections_msg(header, dets, self.model.label))
        else:
            classes = self.model.postprocess(output, meta, top_k=v['top_k'])
            self.pub.publish(classification_msg(header, classes, self.model.label))
