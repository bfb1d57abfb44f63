"""Platform presets from published benchmarks, and the links Neurosurgeon measured.

A preset is a robot (edge device) and a server, each with a per-inference latency
(batch 1) for every report model. A figure is either published (with its source,
input size, runtime and precision) or derived from a published one by a stated
rule. Against a model's profile measured on this machine, a preset becomes that
model's :class:`Platform`: ``edge_slowdown`` = edge ms / this machine's ms and
``cloud_speedup`` = this machine's ms / server ms, where this machine's ms is the
profile's total layer time. The simulator then scales every layer uniformly by
those factors. docs/platforms.md lists every figure and the approximations.

The links are constant-rate traces at the average uplink rates Neurosurgeon
(Kang et al., ASPLOS 2017) measured for 3G, LTE and Wi-Fi; the paper gives no
round-trip times, so those are ours.
"""

from dataclasses import dataclass

from ..model.profile_data import Profile
from .scenario import PLATFORMS, Platform
from .traces import Trace

REPORT_MODELS = ('yolov8n', 'yolo11n', 'ssdlite320_mobilenet_v3_large', 'resnet18', 'resnet50', 'mobilenet_v3_large')

# Multiply-accumulates per inference as `partnner profile` counts them (sum over the layers),
# at each model's own input size; the 'macs' derivation rule scales by these.
MACS = {
    'yolov8n': 4_371_993_600,                        # 640x640
    'yolo11n': 3_271_251_200,                        # 640x640
    'ssdlite320_mobilenet_v3_large': 583_171_904,    # 320x320
    'resnet18': 1_814_073_344,                       # 224x224
    'resnet50': 4_089_184_256,                       # 224x224
    'mobilenet_v3_large': 216_589_760,               # 224x224
}


@dataclass(frozen=True)
class Published:
    """A per-inference latency (ms, batch 1) as published: its source, input size, runtime and precision."""

    ms: float
    source: str
    input_size: str
    runtime: str
    note: str = ''


@dataclass(frozen=True)
class Derived:
    """A latency not published for this device: the device's figure for ``base``, scaled by
    ``rule``: ``'macs'`` multiplies by MACS[model] / MACS[base]; ``'ratio'`` multiplies by the
    model / base latency ratio published for the device ``reference``.
    """

    base: str
    rule: str
    reference: str = ''
    note: str = ''


Figure = Published | Derived


@dataclass(frozen=True)
class Device:
    """A machine with per-model figures; ``role`` is edge, server, or reference (only lends ratios)."""

    key: str
    name: str
    role: str
    figures: dict[str, Figure]


NCNN = 'https://github.com/Tencent/ncnn/blob/a4d2ea1d4422c9e849f166fd7a4aefb52f942f6a/benchmark/README.md'
QENGINEERING = 'https://github.com/Qengineering/YoloV10-ncnn-Raspberry-Pi-4 (benchmark table, YoloV8 640x640 nano row)'
ULTRALYTICS_JETSON = 'https://docs.ultralytics.com/guides/nvidia-jetson/ (Orin Nano Super table, YOLO11n)'
ULTRALYTICS_COMPARE = 'https://docs.ultralytics.com/compare/yolov8-vs-yolo11/ (speed table, T4 TensorRT10)'
ULTRALYTICS_V8 = 'https://docs.ultralytics.com/models/yolov8/ (COCO table, CPU ONNX)'
ULTRALYTICS_11 = 'https://docs.ultralytics.com/models/yolo11/ (COCO table, CPU ONNX)'
AI_HUB = ('https://github.com/quic/ai-hub-models/blob/52c080d245d2d20c634459208ff2548ce10b3c9f/qai_hub_models/models/'
          '{}/perf.yaml (float, Samsung Galaxy S24, tflite)')
MMDEPLOY = ('https://github.com/open-mmlab/mmdeploy/blob/0111e1f10fbacb662a484e3da140b2e8db13d820/docs/en/'
            '03-benchmark/benchmark.md (mmcls ResNet-50, TensorRT T4 fp16)')

_PI4_NCNN = 'ncnn, CPU, 4 threads (benchncnn 10 4 0 -1 1), Cortex-A72 at 1.8 GHz, ncnn default precision'
_ORIN_NCNN = 'ncnn, Vulkan on the GPU (benchncnn 8 1 0 0 1), fp16 storage and arithmetic'
_S24 = 'TFLite on the Hexagon NPU (Qualcomm AI Hub), float precision'
_SSDLITE = Derived('mobilenet_v3_large', 'macs', note='same backbone; the SSDlite head and the 320x320 input add MACs')

DEVICES = {d.key: d for d in (
    Device('rpi4', 'Raspberry Pi 4 Model B (4x Cortex-A72), CPU', 'edge', {
        'yolov8n': Published(1000 / 3.1, QENGINEERING, '640x640', 'ncnn, CPU, 4 cores at 1950 MHz (overclocked), fp32',
                             '3.1 FPS, inference only'),
        'yolo11n': Derived('yolov8n', 'ratio', 'x86-onnx', 'YOLO11n / YOLOv8n as Ultralytics publish them on a CPU'),
        'ssdlite320_mobilenet_v3_large': _SSDLITE,
        'resnet18': Published(123.12, NCNN, '224x224', _PI4_NCNN),
        'resnet50': Published(262.83, NCNN, '224x224', _PI4_NCNN),
        'mobilenet_v3_large': Published(47.53, NCNN, '224x224', _PI4_NCNN),
    }),
    Device('orin-nano', 'NVIDIA Jetson Orin Nano (Super developer kit for the YOLO figures), GPU', 'edge', {
        'yolov8n': Derived('yolo11n', 'ratio', 't4', 'YOLOv8n / YOLO11n on the T4 (TensorRT10)'),
        'yolo11n': Published(4.91, ULTRALYTICS_JETSON, '640x640', 'TensorRT FP16, Ultralytics 8.3.51, JetPack 6.1'),
        'ssdlite320_mobilenet_v3_large': _SSDLITE,
        'resnet18': Published(4.70, NCNN, '224x224', _ORIN_NCNN),
        'resnet50': Published(9.41, NCNN, '224x224', _ORIN_NCNN),
        'mobilenet_v3_large': Published(6.67, NCNN, '224x224', _ORIN_NCNN),
    }),
    Device('s24-npu', 'Samsung Galaxy S24 (Snapdragon 8 Gen 3), NPU', 'edge', {
        'yolov8n': Published(2.407, AI_HUB.format('yolov8_det'), '640x640', _S24, 'YOLOv8-N checkpoint'),
        'yolo11n': Published(2.605, AI_HUB.format('yolov11_det'), '640x640', _S24, 'YOLO11-N checkpoint'),
        'ssdlite320_mobilenet_v3_large': _SSDLITE,
        'resnet18': Published(0.924, AI_HUB.format('resnet18'), '224x224', _S24),
        'resnet50': Published(1.600, AI_HUB.format('resnet50'), '224x224', _S24),
        'mobilenet_v3_large': Published(0.682, AI_HUB.format('mobilenet_v3_large'), '224x224', _S24),
    }),
    Device('t4', 'NVIDIA T4 (server GPU)', 'server', {
        'yolov8n': Published(1.47, ULTRALYTICS_COMPARE, '640x640', 'TensorRT 10 (precision not stated in the table)'),
        'yolo11n': Published(1.55, ULTRALYTICS_COMPARE, '640x640', 'TensorRT 10 (precision not stated in the table)'),
        'ssdlite320_mobilenet_v3_large': _SSDLITE,
        'resnet18': Derived('resnet50', 'ratio', 'v100-ncnn', 'ResNet-18 / ResNet-50 on a V100 (ncnn Vulkan)'),
        'resnet50': Published(1.26, MMDEPLOY, '224x224', 'TensorRT 7.2.3 FP16, batch 1, synchronised'),
        'mobilenet_v3_large': Derived('resnet50', 'ratio', 'v100-ncnn',
                                      'MobileNetV3-Large / ResNet-50 on a V100 (ncnn Vulkan)'),
    }),
    Device('x86-onnx', 'Ultralytics CPU ONNX reference (Amazon EC2 P4d CPU)', 'reference', {
        'yolov8n': Published(80.4, ULTRALYTICS_V8, '640x640', 'ONNX Runtime, CPU'),
        'yolo11n': Published(56.1, ULTRALYTICS_11, '640x640', 'ONNX Runtime, CPU'),
    }),
    Device('v100-ncnn', 'NVIDIA Tesla V100-PCIE-32GB, ncnn Vulkan reference', 'reference', {
        'resnet18': Published(1.95, NCNN, '224x224', 'ncnn, Vulkan (benchncnn 300 1 0 0 0)'),
        'resnet50': Published(3.72, NCNN, '224x224', 'ncnn, Vulkan (benchncnn 300 1 0 0 0)'),
        'mobilenet_v3_large': Published(2.04, NCNN, '224x224', 'ncnn, Vulkan (benchncnn 300 1 0 0 0)'),
    }),
)}


def latency_ms(device: str, model: str) -> float:
    """The device's per-inference ms for ``model``, published or derived; ValueError when it has none."""
    if device not in DEVICES:
        raise ValueError(f'no device {device!r}; known: {", ".join(DEVICES)}')
    figure = DEVICES[device].figures.get(model)
    if figure is None:
        raise ValueError(f'no published or derived latency of {model} on {DEVICES[device].name}; '
                         f'the presets cover {", ".join(REPORT_MODELS)}')
    if isinstance(figure, Published):
        return figure.ms
    base = latency_ms(device, figure.base)
    if figure.rule == 'macs':
        return base * MACS[model] / MACS[figure.base]
    return base * latency_ms(figure.reference, model) / latency_ms(figure.reference, figure.base)


@dataclass(frozen=True)
class Preset:
    """A robot and a server from DEVICES; ``label`` names them for reports."""

    name: str
    edge: str
    server: str
    label: str


PRESETS = {p.name: p for p in (
    Preset('rpi4-t4', 'rpi4', 't4', 'Raspberry Pi 4 CPU + T4'),
    Preset('orin-nano-t4', 'orin-nano', 't4', 'Jetson Orin Nano GPU + T4'),
    Preset('s24-npu-t4', 's24-npu', 't4', 'Galaxy S24 NPU + T4'),
)}
DEFAULT_PRESETS = tuple(PRESETS)


def preset_platform(preset: str, profile: dict) -> Platform:
    """The preset as a Platform for the model ``profile`` (``partnner profile --json``) measured:
    published (or derived) ms over the profile's total layer ms; ValueError for an unknown preset
    or a model without figures.
    """
    if preset not in PRESETS:
        raise ValueError(f'no preset {preset!r}; known: {", ".join(PRESETS)}')
    p, prof = PRESETS[preset], Profile.parse(profile)
    this_ms = float(prof.layer_ms.sum())
    return Platform(preset, latency_ms(p.edge, prof.model) / this_ms, this_ms / latency_ms(p.server, prof.model))


def resolve_platform(name: str, profile: dict | None = None) -> Platform:
    """A platform by name: edge5x/edge10x/edge20x, a preset (needs the model's ``profile``), or
    ``EDGE_SLOWDOWN[:CLOUD_SPEEDUP]``; ValueError says what is accepted.
    """
    if name in PLATFORMS:
        return PLATFORMS[name]
    if name in PRESETS:
        if profile is None:
            raise ValueError(f'the preset {name} needs the model profile')
        return preset_platform(name, profile)
    try:
        values = [float(v) for v in name.split(':')]
        if not 1 <= len(values) <= 2 or min(values) <= 0:
            raise ValueError
    except ValueError:
        raise ValueError(f'a platform is one of {", ".join(PLATFORMS)}, a preset ({", ".join(PRESETS)}) or '
                         f'EDGE_SLOWDOWN[:CLOUD_SPEEDUP] with positive numbers, got {name!r}') from None
    return Platform(name, *values)


NEUROSURGEON = ('Kang et al., Neurosurgeon: Collaborative Intelligence Between the Cloud and Mobile Edge, '
                'ASPLOS 2017, https://doi.org/10.1145/3037697.3037698')


@dataclass(frozen=True)
class Link:
    """A constant uplink: its rate (Mbit/s, as Neurosurgeon measured) and a round-trip time (ms, ours)."""

    name: str
    label: str
    mbps: float
    rtt_ms: float

    @property
    def delay_ms(self) -> float:
        """One-way delay for Scenario.delay_ms: half the round trip."""
        return self.rtt_ms / 2

    def trace(self, seconds: float = 120.0) -> Trace:
        """The link as a constant-rate trace whose period is ``seconds``."""
        return Trace([0.0, seconds / 2], [self.mbps, self.mbps], name=f'{self.name} {self.mbps:g} Mbit/s')


LINKS = {link.name: link for link in (
    Link('3g', '3G', 1.1, 150.0),
    Link('lte', 'LTE', 5.85, 60.0),
    Link('wifi', 'Wi-Fi', 18.88, 20.0),
)}
