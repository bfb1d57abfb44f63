"""Letterbox/resize metadata maps boxes back; NMS and top-k pick the right results."""

import numpy as np
import pytest
import torch

from partnner_ros.core.vision.postprocess import DetectionSettings, top_k, yolo_detections
from partnner_ros.core.vision.preprocess import (
    ImageMeta,
    as_rgb,
    letterbox,
    letterbox_shape,
    resize_center_crop,
    stretch,
)


@pytest.mark.parametrize('stride', [0, 32])
def test_letterbox_matches_ultralytics(stride):
    from ultralytics.data.augment import LetterBox
    from ultralytics.utils.ops import scale_boxes
    rng = np.random.default_rng(0)
    for h, w in ((480, 640), (720, 1280), (640, 480), (333, 517), (1080, 810)):
        img = rng.integers(0, 256, (h, w, 3), dtype=np.uint8)
        ours, meta = letterbox(img, (640, 640), stride)
        theirs = LetterBox((640, 640), auto=bool(stride), stride=stride or 32)(image=img)
        assert ours.shape == theirs.shape == (*letterbox_shape(w, h, (640, 640), stride), 3), (h, w)
        assert np.array_equal(ours, theirs), (h, w)
        assert meta.width == w and meta.height == h
        boxes = rng.uniform(0, 640, (20, 4))
        boxes[:, 2:] = boxes[:, :2] + rng.uniform(1, 200, (20, 2))
        back = scale_boxes(ours.shape[:2], torch.tensor(boxes), (h, w)).numpy()
        assert np.allclose(meta.to_camera(boxes), back, atol=1e-3), (h, w)


@pytest.mark.parametrize('resize', [
    lambda img: letterbox(img, (640, 640)),
    lambda img: stretch(img, (320, 320)),
    lambda img: resize_center_crop(img, (224, 224), 256),
])
def test_meta_maps_input_pixels_back_to_camera_pixels(resize):
    img = np.zeros((480, 640, 3), np.uint8)
    img[100:200, 300:400] = 255  # a white square in camera pixels
    out, meta = resize(img)
    ys, xs = np.nonzero(out[:, :, 0] > 127)
    box = np.array([[xs.min(), ys.min(), xs.max() + 1, ys.max() + 1]], float)
    back = meta.to_camera(box)[0]
    assert np.allclose(back, [300, 100, 400, 200], atol=3), back


def test_boxes_are_clipped_to_the_image():
    meta = ImageMeta(640, 480, 1.0, 1.0, 0.0, 80.0)
    assert meta.to_camera(np.array([[-5, 0, 700, 600]])).tolist() == [[0, 0, 640, 480]]


def test_as_rgb_accepts_mono_and_rgba():
    assert as_rgb(np.zeros((4, 5), np.uint8)).shape == (4, 5, 3)
    assert as_rgb(np.zeros((4, 5, 1), np.uint8)).shape == (4, 5, 3)
    assert as_rgb(np.zeros((4, 5, 4), np.uint8)).shape == (4, 5, 3)
    with pytest.raises(ValueError, match='uint8'):
        as_rgb(np.zeros((4, 5, 3), np.float32))
    with pytest.raises(ValueError, match='shape'):
        as_rgb(np.zeros((4, 5, 2), np.uint8))


def yolo_pred(boxes, nc=3):
    """boxes: (cx, cy, w, h, class, score) -> a 1 x (4 + nc) x A prediction."""
    pred = torch.zeros(1, 4 + nc, len(boxes))
    for a, (cx, cy, w, h, c, s) in enumerate(boxes):
        pred[0, :4, a] = torch.tensor([cx, cy, w, h])
        pred[0, 4 + c, a] = s
    return pred


def test_nms_keeps_best_of_overlapping_same_class_boxes():
    meta = ImageMeta(640, 480, 1.0, 1.0, 0.0, 80.0)  # a 640x480 image letterboxed to 640x640
    pred = yolo_pred([(100, 180, 40, 40, 0, 0.9), (102, 182, 40, 40, 0, 0.8),  # duplicate of the first
                      (102, 182, 40, 40, 1, 0.7),  # same place, other class: kept
                      (400, 300, 50, 20, 2, 0.1)])  # below the confidence threshold
    dets = yolo_detections(pred, meta, DetectionSettings(conf=0.25, iou=0.45))
    assert [(d.class_id, round(d.score, 2)) for d in dets] == [(0, 0.9), (1, 0.7)]
    assert np.allclose(dets[0].box, [80, 80, 120, 120])  # shifted up by the 80 px pad
    assert yolo_detections(pred, meta, DetectionSettings(max_det=1))[0].class_id == 0


def test_end_to_end_predictions_are_thresholded():
    meta = ImageMeta(640, 640, 1.0, 1.0, 0.0, 0.0)
    pred = torch.tensor([[[10, 10, 50, 50, 0.9, 3], [0, 0, 5, 5, 0.1, 1]]])
    dets = yolo_detections(pred, meta)
    assert len(dets) == 1 and dets[0].class_id == 3 and dets[0].box == (10, 10, 50, 50)


def test_top_k_orders_classes():
    logits = torch.tensor([[0.0, 3.0, 1.0, 2.0]])
    result = top_k(logits, 3)
    assert [r.class_id for r in result] == [1, 3, 2]
    assert abs(sum(r.score for r in top_k(logits, 4)) - 1) < 1e-6


def test_detector_pipeline_runs_on_a_real_photo(get_model):
    from partnner_ros.core.model.profiler import sample_image
    image = sample_image()
    for name in ('yolov8n', 'ssdlite320_mobilenet_v3_large'):
        model = get_model(name)
        x, meta = model.preprocess(image)
        assert tuple(x.shape) == (1, 3, *model.input_size_for(image.shape[1], image.shape[0]))
        assert 0 <= float(x.min()) and float(x.max()) <= 1
        dets = model.postprocess(model.forward(x), meta, DetectionSettings(conf=0.0, max_det=20))
        assert 0 < len(dets) <= 20
        for d in dets:
            x1, y1, x2, y2 = d.box
            assert 0 <= x1 <= x2 <= image.shape[1] and 0 <= y1 <= y2 <= image.shape[0]


def test_classifier_pipeline_reports_top_k_on_a_real_photo(get_model):
    from partnner_ros.core.model.profiler import sample_image
    model = get_model('resnet18')
    classes = model.postprocess(model.forward(model.preprocess(sample_image())[0]), None)
    scores = [c.score for c in classes]
    assert len(classes) == 5 and scores == sorted(scores, reverse=True) and 0 < sum(scores) <= 1 + 1e-6
    assert len({model.label(c.class_id) for c in classes}) == 5


@pytest.mark.parametrize('size', [(480, 640), (720, 1280), (1080, 810), (640, 640)])
def test_detections_equal_ultralytics_predict_with_its_defaults(get_model, photos, size):
    """Rect letterbox (non-square cameras run a non-square input), iou 0.7, boxes mapped back as
    ultralytics does: the same detections as YOLO.predict() on the same network."""
    import copy

    import cv2
    from ultralytics import YOLO
    model = get_model('yolov8n')
    rgb = cv2.resize(photos[0], size[::-1])
    x, meta = model.preprocess(rgb)
    assert tuple(x.shape[2:]) == model.input_size_for(size[1], size[0])
    ours = sorted(model.postprocess(model.forward(x), meta, DetectionSettings(conf=0.01)), key=lambda d: -d.score)
    yolo = YOLO('yolov8n.yaml')
    yolo.model = copy.deepcopy(model.module)
    boxes = yolo.predict(np.ascontiguousarray(rgb[:, :, ::-1]), conf=0.01, verbose=False)[0].boxes
    order = torch.argsort(boxes.conf, descending=True)
    assert len(ours) == len(order) > 0
    assert [d.class_id for d in ours] == boxes.cls[order].int().tolist()
    assert np.allclose([d.score for d in ours], boxes.conf[order].numpy(), atol=1e-5)
    assert np.allclose([d.box for d in ours], boxes.xyxy[order].numpy(), atol=1e-2)
