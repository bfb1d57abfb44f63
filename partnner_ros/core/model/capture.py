"""Turn concrete networks into :class:`~partnner_ros.core.split.Layer` lists.

Three capture paths cover the supported families:

* ultralytics detection models, whose ``model.model`` is a ModuleList in which
  every layer names its inputs (``m.f``; -1 is the previous layer);
* torch.fx-traceable modules (the torchvision classifiers), one layer per graph
  node, so cuts exist inside residual blocks and carry both branches;
* torchvision SSDlite, whose backbone blocks and extra blocks feed a shared head.
"""

from typing import Any, Callable

import torch
from torch import fx, nn

from .graph import INPUT, Layer


def _call_list(module: nn.Module) -> Callable[..., Any]:
    return lambda *values: module(list(values))


def _first_if_tuple(module: nn.Module) -> Callable[..., Any]:
    def run(*values):
        out = module(list(values) if len(values) > 1 else values[0])
        return out[0] if isinstance(out, tuple) else out
    return run


def ultralytics_layers(normalize: nn.Module | None, det_model: nn.Module) -> list[Layer]:
    """Layers of an ultralytics model, one per entry of ``det_model.model``.

    The detect head returns (predictions, raw maps) in eval mode; its layer keeps
    only the decoded predictions, which are what NMS needs.
    """
    layers = []
    offset = 0
    if normalize is not None:
        layers.append(Layer('normalize', type(normalize).__name__, (INPUT,), normalize))
        offset = 1
    modules = list(det_model.model)
    for i, m in enumerate(modules):
        prev = i + offset  # value id of the previous layer's output (or the input)
        f = m.f
        if isinstance(f, int):
            srcs = (prev if f == -1 else f + 1 + offset,)
        else:
            srcs = tuple(prev if j == -1 else j + 1 + offset for j in f)
        is_last = i == len(modules) - 1
        if is_last:
            run = _first_if_tuple(m)
        elif isinstance(f, int):
            run = m
        else:
            run = _call_list(m)
        layers.append(Layer(f'model.{i}', type(m).__name__, srcs, run))
    return layers


def _fx_kind(node: fx.Node, gm: fx.GraphModule) -> str:
    if node.op == 'call_module':
        return type(gm.get_submodule(node.target)).__name__
    if node.op == 'call_method':
        return str(node.target)
    return getattr(node.target, '__name__', str(node.target))


def _fx_runner(node: fx.Node, gm: fx.GraphModule, srcs: list[fx.Node]) -> Callable[..., Any]:
    """A callable that evaluates ``node`` given the values of ``srcs``.

    Constants (``get_attr`` nodes) are bound at capture time, so they never
    become live values that would have to cross a cut.
    """
    position = {n: i for i, n in enumerate(srcs)}
    consts = {n: _fetch_attr(gm, n.target) for n in node.all_input_nodes if n.op == 'get_attr'}

    def resolve(values, arg):
        return fx.node.map_arg(arg, lambda n: values[position[n]] if n in position else consts[n])

    if node.op == 'call_module':
        target = gm.get_submodule(node.target)
    elif node.op == 'call_function':
        target = node.target
    elif node.op == 'call_method':
        method = node.target

        def target(obj, *args, **kwargs):
            return getattr(obj, method)(*args, **kwargs)
    else:
        raise ValueError(f'cannot run fx node {node.format_node()}')
    node_args, node_kwargs = node.args, node.kwargs

    if not node_kwargs and all(isinstance(a, fx.Node) and a in position for a in node_args):
        order = [position[a] for a in node_args]
        return lambda *values: target(*[values[i] for i in order])

    def run(*values):
        return target(*resolve(values, node_args), **resolve(values, node_kwargs))
    return run


def _fetch_attr(gm: fx.GraphModule, target: str) -> Any:
    obj: Any = gm
    for part in target.split('.'):
        obj = getattr(obj, part)
    return obj


def fx_layers(gm: fx.GraphModule) -> list[Layer]:
    """One layer per computing node of a traced graph, in the graph's order."""
    value_of: dict[fx.Node, int] = {}
    layers: list[Layer] = []
    output_node = None
    for node in gm.graph.nodes:
        if node.op == 'placeholder':
            if value_of:
                raise ValueError('only single-input models can be split')
            value_of[node] = INPUT
        elif node.op == 'get_attr':
            continue
        elif node.op == 'output':
            output_node = node
        else:
            srcs = list(dict.fromkeys(n for n in node.all_input_nodes if n.op != 'get_attr'))
            layers.append(Layer(node.name, _fx_kind(node, gm),
                                tuple(value_of[n] for n in srcs), _fx_runner(node, gm, srcs)))
            value_of[node] = len(layers)
    result = output_node.args[0] if output_node is not None else None
    if not isinstance(result, fx.Node) or value_of.get(result) != len(layers):
        raise ValueError('the traced graph must end with the node it returns')
    return layers


def ssdlite_layers(normalize: nn.Module, ssd: nn.Module) -> list[Layer]:
    """Normalize, each backbone block, each extra block, then the SSD head.

    The head reads the output of both backbone stages and of every extra block,
    so cuts late in the backbone carry several feature maps.
    """
    layers = [Layer('normalize', type(normalize).__name__, (INPUT,), normalize)]
    feature_values = []
    stages = list(ssd.backbone.features)
    for s, stage in enumerate(stages):
        for j, block in enumerate(stage):
            layers.append(Layer(f'backbone.features.{s}.{j}', type(block).__name__, (len(layers),), block))
        feature_values.append(len(layers))
    for j, block in enumerate(ssd.backbone.extra):
        layers.append(Layer(f'backbone.extra.{j}', type(block).__name__, (len(layers),), block))
        feature_values.append(len(layers))
    head = ssd.head

    def run_head(*features):
        out = head(list(features))
        return torch.cat([out['bbox_regression'], out['cls_logits']], dim=-1)

    layers.append(Layer('head', type(head).__name__, tuple(feature_values), run_head))
    return layers
