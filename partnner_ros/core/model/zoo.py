"""The model zoo: build a :class:`SplitModel` by name, from a local weights file or
from a seeded random initialisation that is identical in every process.

Nothing here downloads: ultralytics runs with its offline settings, torchvision
models are built with ``weights=None``, and a user's weights come from a path.
"""

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
import torch
from torch import fx, nn

from ..vision import postprocess, preprocess
from ..vision.preprocess import ImageMeta
from . import capture
from .costs import CutFacts, LayerFacts, measure_facts
from .fingerprint import fingerprint
from .graph import LayerGraph

for _key, _value in (('YOLO_OFFLINE', '1'), ('YOLO_AUTOINSTALL', '0'), ('YOLO_VERBOSE', '0')):
    os.environ.setdefault(_key, _value)

DEFAULT_SEED = 0


@dataclass(frozen=True)
class ModelSpec:
    """A zoo entry: how to build the model, its task and its square input size in pixels."""

    name: str
    family: str  # 'ultralytics', 'torchvision' or 'ssdlite'
    task: str    # 'detect' or 'classify'
    input_size: int
    description: str


ZOO = {s.name: s for s in (
    ModelSpec('yolov8n', 'ultralytics', 'detect', 640, 'Ultralytics YOLOv8n detector, COCO classes'),
    ModelSpec('yolo11n', 'ultralytics', 'detect', 640, 'Ultralytics YOLO11n detector, COCO classes'),
    ModelSpec('resnet18', 'torchvision', 'classify', 224, 'torchvision ResNet-18, ImageNet classes'),
    ModelSpec('resnet50', 'torchvision', 'classify', 224, 'torchvision ResNet-50, ImageNet classes'),
    ModelSpec('mobilenet_v3_large', 'torchvision', 'classify', 224,
              'torchvision MobileNetV3-Large, ImageNet classes'),
    ModelSpec('efficientnet_b0', 'torchvision', 'classify', 224, 'torchvision EfficientNet-B0, ImageNet classes'),
    ModelSpec('vgg16', 'torchvision', 'classify', 224, 'torchvision VGG-16, ImageNet classes'),
    ModelSpec('ssdlite320_mobilenet_v3_large', 'ssdlite', 'detect', 320,
              'torchvision SSDlite320 MobileNetV3-Large detector, COCO classes'),
)}


class Normalize(nn.Module):
    """``(x - mean) / std`` per channel, on a 1 x 3 x H x W input in [0, 1]."""

    def __init__(self, mean, std):
        super().__init__()
        self.register_buffer('mean', torch.tensor(mean, dtype=torch.float32).view(1, 3, 1, 1))
        self.register_buffer('std', torch.tensor(std, dtype=torch.float32).view(1, 3, 1, 1))

    def forward(self, x):
        """The normalised input."""
        return (x - self.mean) / self.std


@dataclass
class SplitModel:
    """A model ready to split: its layer graph, pre/post-processing and facts."""

    name: str
    task: str
    graph: LayerGraph
    module: nn.Module
    input_size: tuple[int, int]
    labels: list[str]
    fingerprint: str
    layer_facts: list[LayerFacts]
    cut_facts: dict[int, CutFacts]
    random_weights: bool
    _prep: Callable[[np.ndarray], tuple[np.ndarray, ImageMeta]] = field(repr=False)
    _post: Callable = field(repr=False)
    # > 0: a rect letterbox (as ultralytics' predict), the input padded only up to multiples of it, so its
    # size follows the camera's aspect; the facts above are of the square input_size
    stride: int = 0

    @property
    def num_layers(self) -> int:
        """Number of layers in the split graph (the edge-only split)."""
        return self.graph.n

    @property
    def splits(self) -> list[int]:
        """Every usable split, ascending: 0 (cloud-only) to num_layers (edge-only)."""
        return sorted(self.cut_facts)

    @property
    def input_shape(self) -> tuple[int, int, int, int]:
        """The model input's shape, ``(1, 3, height, width)``."""
        return (1, 3, *self.input_size)

    def input_size_for(self, width: int, height: int) -> tuple[int, int]:
        """The model input's (height, width) for a ``width`` x ``height`` camera image."""
        return preprocess.letterbox_shape(width, height, self.input_size, self.stride)

    def live_shapes(self, split: int, input_hw: tuple[int, int] | None = None) -> tuple[tuple[int, ...], ...]:
        """Shapes of the tensors that cross ``split``, in wire order, for an input of ``input_hw`` (height,
        width; by default ``input_size``): a feature map's sides follow the input's at its own stride.
        """
        shapes = self.cut_facts[split].shapes
        if input_hw is None or tuple(input_hw) == self.input_size:
            return shapes
        (h, w), (ref_h, ref_w) = input_hw, self.input_size
        return tuple((*s[:2], -(-h * s[2] // ref_h), -(-w * s[3] // ref_w)) if len(s) == 4 else s for s in shapes)

    def live_names(self, split: int) -> list[str]:
        """Wire names (``v<id>``) of the tensors that cross ``split``, in the order ``head`` returns them."""
        return [f'v{v}' for v in self.graph.live(split)]

    def preprocess(self, image_rgb: np.ndarray) -> tuple[torch.Tensor, ImageMeta]:
        """The model input (1 x 3 x H x W, in [0, 1]) for a camera image, and how it maps back."""
        resized, meta = self._prep(preprocess.as_rgb(image_rgb))
        return preprocess.to_tensor(resized), meta

    def head(self, x: torch.Tensor, split: int, timings: list[float] | None = None) -> list[torch.Tensor]:
        """Run layers ``[0, split)`` on the input; the tensors live at ``split``.
        Raises ValueError for an unusable split.
        """
        self._check_split(split)
        return self.graph.head(x, split, timings)

    def advance(self, live: list[torch.Tensor], start: int, stop: int, timings: list[float] | None = None):
        """From the tensors live at split ``start``, run on to the deeper split ``stop``."""
        self._check_split(start)
        self._check_split(stop)
        return self.graph.advance(live, start, stop, timings)

    def tail(self, live: list[torch.Tensor], split: int, timings: list[float] | None = None):
        """Run layers ``[split, n)`` from the tensors live at ``split``; the model output.
        Raises ValueError for an unusable split.
        """
        self._check_split(split)
        return self.graph.tail(live, split, timings)

    def forward(self, x: torch.Tensor):
        """The whole model's output for input ``x`` (head at 0, then tail)."""
        return self.graph.forward(x)

    def postprocess(self, output, meta: ImageMeta, settings=postprocess.DetectionSettings(), top_k: int = 5):
        """Detections (detectors) or the top classes (classifiers) of a model output."""
        if self.task == 'classify':
            return postprocess.top_k(output, top_k)
        return self._post(output, meta, settings)

    def label(self, class_id: int) -> str:
        """The class name of ``class_id``, or the id as text when the labels do not cover it."""
        return self.labels[class_id] if 0 <= class_id < len(self.labels) else str(class_id)

    def _check_split(self, split: int) -> None:
        if split not in self.cut_facts:
            raise ValueError(f'{self.name}: {split!r} is not a usable split; splits are 0..{self.num_layers}'
                             + ('' if len(self.cut_facts) == self.num_layers + 1 else ' (some are not)'))


def seeded_init(module: nn.Module, seed: int, run: Callable[[], object]) -> None:
    """Variance-preserving random weights, identical in every process for a seed.

    Convolutions and linear layers get Kaiming-normal weights and zero biases, and
    norms become the identity. Then one forward pass (``run``, on a fixed sample)
    rescales each of those layers, in execution order, so its output has unit
    variance (LSUV, Mishkin & Matas 2016). Kaiming alone lets activations shrink
    or grow by orders of magnitude over depth, which makes fp16 payloads and
    compression figures meaningless. The scales are powers of two so that float
    noise from another thread count cannot change the weights. Frozen parameters
    (such as the YOLO DFL's fixed projection) keep their values.
    """
    g = torch.Generator().manual_seed(seed)
    scaled = []
    with torch.no_grad():
        for m in module.modules():
            if isinstance(m, (nn.Conv2d, nn.Linear)) and m.weight.requires_grad:
                nn.init.kaiming_normal_(m.weight, mode='fan_in', nonlinearity='relu', generator=g)
                if m.bias is not None:
                    m.bias.zero_()
                scaled.append(m)
            elif isinstance(m, (nn.BatchNorm2d, nn.BatchNorm1d, nn.GroupNorm, nn.LayerNorm)):
                if getattr(m, 'weight', None) is not None:
                    m.weight.fill_(1.0)
                    m.bias.zero_()
                if isinstance(m, (nn.BatchNorm2d, nn.BatchNorm1d)):
                    m.running_mean.zero_()
                    m.running_var.fill_(1.0)

    def unit_variance(m, _inputs, out):
        std = float(out.float().std())
        if not np.isfinite(std) or std <= 0 or getattr(m, '_partnner_scaled', False):
            return out
        factor = 2.0 ** -round(np.log2(std))
        m.weight.mul_(factor)
        m._partnner_scaled = True
        return out * factor

    hooks = [m.register_forward_hook(unit_variance) for m in scaled]
    try:
        with torch.no_grad():
            run()
    finally:
        for h in hooks:
            h.remove()
        for m in scaled:
            m.__dict__.pop('_partnner_scaled', None)


def _coco80() -> list[str]:
    import ultralytics
    import yaml
    path = Path(ultralytics.__file__).parent / 'cfg' / 'datasets' / 'coco.yaml'
    names = yaml.safe_load(path.read_text())['names']
    return [names[i] for i in range(len(names))]


def _build_ultralytics(source: str, weights: str | None, seed: int, size: int):
    from ultralytics.nn.tasks import DetectionModel, load_checkpoint
    path = weights or source
    if str(path).endswith('.pt'):
        if not Path(path).is_file():
            raise FileNotFoundError(f'weights file {path} not found (nothing is downloaded)')
        model, _ = load_checkpoint(path)
        random_weights = False
    else:
        with torch.random.fork_rng():
            torch.manual_seed(seed)
            model = DetectionModel(source, verbose=False)
        model.eval()
        seeded_init(model, seed, lambda: model(sample_input((1, 3, size, size), seed)))
        model.model[-1].bias_init()
        random_weights = True
    model = model.float().fuse(verbose=False).eval()
    detect = model.model[-1]
    if not hasattr(detect, 'nc'):
        raise ValueError(f'{path}: only ultralytics detection models are supported')
    names = getattr(model, 'names', None) or {}
    labels = [names[i] for i in range(detect.nc)] if len(names) == detect.nc else []
    if detect.nc == 80 and (not labels or labels[0] == '0'):
        labels = _coco80()
    layers = capture.ultralytics_layers(None, model)
    stride = int(model.stride.max())

    def prep(img):
        return preprocess.letterbox(img, (size, size), stride)

    def post(out, meta, settings):
        return postprocess.yolo_detections(out, meta, settings)
    return model, layers, labels, prep, post, random_weights


def _load_state_dict(module: nn.Module, weights: str) -> None:
    if not Path(weights).is_file():
        raise FileNotFoundError(f'weights file {weights} not found (nothing is downloaded)')
    state = torch.load(weights, map_location='cpu', weights_only=True)
    for key in ('state_dict', 'model'):
        if isinstance(state, dict) and isinstance(state.get(key), dict):
            state = state[key]
    module.load_state_dict(state)


class _LeafTracer(fx.Tracer):
    def is_leaf_module(self, m, qualname):
        return isinstance(m, Normalize) or super().is_leaf_module(m, qualname)


def _build_torchvision(name: str, weights: str | None, seed: int, size: int | None):
    import torchvision
    from torch.fx.experimental.optimization import fuse
    if name not in torchvision.models.list_models(module=torchvision.models):
        raise ValueError(f'unknown model {name!r}')
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        net = torchvision.models.get_model(name, weights=None)
    meta = torchvision.models.get_model_weights(name).DEFAULT
    transforms = meta.transforms()
    crop = size or int(transforms.crop_size[0])
    short = round(int(transforms.resize_size[0]) * crop / int(transforms.crop_size[0]))
    norm = Normalize(transforms.mean, transforms.std)
    net.eval()
    if weights:
        _load_state_dict(net, weights)
    else:
        seeded_init(net, seed, lambda: net(norm(sample_input((1, 3, crop, crop), seed))))
    wrapped = nn.Sequential(norm, fuse(net, inplace=True)).eval()
    gm = fx.GraphModule(wrapped, _LeafTracer().trace(wrapped))
    layers = capture.fx_layers(gm)

    def prep(img):
        return preprocess.resize_center_crop(img, (crop, crop), short)
    return gm, layers, list(meta.meta['categories']), prep, None, not weights, crop


def _fuse_sequential_conv_bn(module: nn.Module) -> None:
    for child in module.modules():
        if isinstance(child, nn.Sequential):
            for i in range(len(child) - 1):
                if isinstance(child[i], nn.Conv2d) and isinstance(child[i + 1], nn.BatchNorm2d):
                    child[i] = torch.nn.utils.fusion.fuse_conv_bn_eval(child[i], child[i + 1])
                    child[i + 1] = nn.Identity()


def _build_ssdlite(weights: str | None, seed: int, size: int):
    from torchvision.models.detection import SSDLite320_MobileNet_V3_Large_Weights, ssdlite320_mobilenet_v3_large
    from torchvision.models.detection.image_list import ImageList
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        ssd = ssdlite320_mobilenet_v3_large(weights=None, weights_backbone=None, num_classes=91)
    norm = Normalize([0.5] * 3, [0.5] * 3)
    ssd.eval()
    if weights:
        _load_state_dict(ssd, weights)
    else:
        sample = sample_input((1, 3, size, size), seed)
        seeded_init(ssd, seed, lambda: ssd.head(list(ssd.backbone(norm(sample)).values())))
    _fuse_sequential_conv_bn(ssd)
    layers = capture.ssdlite_layers(norm, ssd)
    with torch.inference_mode():
        image = torch.zeros(1, 3, size, size)
        features = list(ssd.backbone(image).values())
        anchors = ssd.anchor_generator(ImageList(image, [(size, size)]), features)[0]
    labels = list(SSDLite320_MobileNet_V3_Large_Weights.COCO_V1.meta['categories'])

    def prep(img):
        return preprocess.stretch(img, (size, size))

    def post(out, meta, settings):
        return postprocess.ssd_detections(out, anchors, ssd.box_coder, meta, settings)
    return nn.Sequential(norm, ssd), layers, labels, prep, post, not weights


def sample_input(shape: tuple[int, ...], seed: int = DEFAULT_SEED) -> torch.Tensor:
    """A deterministic image-like input in [0, 1]: smooth gradients plus noise."""
    _, _, h, w = shape
    g = torch.Generator().manual_seed(seed)
    yy, xx = torch.meshgrid(torch.linspace(0, 1, h), torch.linspace(0, 1, w), indexing='ij')
    base = torch.stack([xx, yy, (xx + yy) / 2])
    return (0.8 * base + 0.2 * torch.rand(3, h, w, generator=g)).clamp_(0, 1).unsqueeze(0)


def load_model(name: str, weights: str | None = None, seed: int = DEFAULT_SEED,
               input_size: int | None = None) -> SplitModel:
    """Build a model by zoo name, by torchvision classifier name, or from an
    ultralytics ``.pt``/``.yaml`` path; ``weights`` is an optional local file.
    """
    spec = ZOO.get(name)
    if name.endswith(('.pt', '.yaml', '.yml')) or (spec and spec.family == 'ultralytics'):
        size = input_size or (spec.input_size if spec else 640)
        if size % 32:
            raise ValueError(f'ultralytics input size must be a multiple of 32, got {size}')
        source = f'{name}.yaml' if spec else name
        module, layers, labels, prep, post, random = _build_ultralytics(source, weights, seed, size)
        task, stride = 'detect', int(module.stride.max())
    elif spec and spec.family == 'ssdlite':
        size = input_size or spec.input_size
        module, layers, labels, prep, post, random = _build_ssdlite(weights, seed, size)
        task, stride = 'detect', 0
    else:
        module, layers, labels, prep, post, random, size = _build_torchvision(name, weights, seed, input_size)
        task, stride = 'classify', 0
    graph = LayerGraph(layers)
    shape = (1, 3, size, size)
    layer_facts, cuts = measure_facts(graph, sample_input(shape, seed))
    return SplitModel(
        name=Path(name).stem if name.endswith(('.pt', '.yaml', '.yml')) else name,
        task=task, graph=graph, module=module, input_size=(size, size), labels=labels,
        fingerprint=fingerprint(graph, module, shape), layer_facts=layer_facts,
        cut_facts={c.split: c for c in cuts}, random_weights=random, _prep=prep, _post=post, stride=stride)
