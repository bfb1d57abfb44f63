"""The ``partnner`` command: list, profile and verify split models."""

import argparse
import json
import os
import sys


def _shape(shape) -> str:
    return 'x'.join(str(d) for d in shape[1:])


def _add_model_args(p: argparse.ArgumentParser) -> None:
    p.add_argument('model', help='zoo name (see "partnner models"), a torchvision classifier name, '
                                 'or an ultralytics .pt/.yaml path')
    p.add_argument('--weights', help='local weights file (.pt for ultralytics, a state dict for torchvision); '
                                     'default: seeded random weights')
    p.add_argument('--seed', type=int, default=0, help='seed of the random weights (default 0)')
    p.add_argument('--imgsz', type=int, help="input size (default: the model's own)")


def _load(args):
    from .core.models import load_model
    return load_model(args.model, weights=args.weights, seed=args.seed, input_size=args.imgsz)


def cmd_models(args) -> int:
    from .core.models import ZOO
    if args.json:
        print(json.dumps([vars(s) for s in ZOO.values()], indent=2))
        return 0
    width = max(len(n) for n in ZOO)
    for spec in ZOO.values():
        print(f'{spec.name:<{width}}  {spec.task:<8}  {spec.input_size:>4}px  {spec.description}')
    print('\nAlso: any torchvision classifier by name, or an ultralytics .pt/.yaml path.')
    return 0


def cmd_profile(args) -> int:
    from .core import codec
    from .core.profiler import profile
    codecs = args.codec or list(codec.CODECS)
    try:
        for c in codecs:
            codec.Codec.parse(c)
    except codec.UnknownCodec as e:
        print(f'partnner profile: {e}', file=sys.stderr)
        return 2
    model = _load(args)
    result = profile(model, codecs, repeats=args.repeats)
    if args.json:
        print(json.dumps(result, indent=1))
        return 0
    shown = [c for c in codecs if c != codec.JPEG] or codecs
    print(f"{result['model']}  fingerprint {result['fingerprint']}  input {_shape(result['input_shape'])}  "
          f"{result['num_layers']} layers  {result['total_ms']:.1f} ms on {result['machine']['threads']} threads"
          + ('  (random weights)' if result['random_weights'] else ''))
    print(f"{'split':>5}  {'live tensors':<34} {'GMACs head':>10} {'edge ms':>8} {'cloud ms':>8}  "
          + '  '.join(f'{c:>10}' for c in shown))
    for cut in result['cuts']:
        live = ', '.join(_shape(t['shape']) for t in cut['live'])
        if len(live) > 34:
            live = live[:31] + '...'
        row = '  '.join(f"{cut['bytes'].get(c, 0):>10}" for c in shown)
        print(f"{cut['split']:>5}  {live:<34} {cut['head_macs'] / 1e9:>10.3f} {cut['edge_ms']:>8.2f} "
              f"{cut['cloud_ms']:>8.2f}  {row}")
    if codec.JPEG in codecs:
        print(f"split 0 as jpeg: {result['cuts'][0]['bytes'][codec.JPEG]} bytes")
    print('bytes are payload bytes per frame; edge/cloud ms are this machine running the head/tail.')
    return 0


def cmd_verify(args) -> int:
    from .core.profiler import verify
    model = _load(args)
    splits = None
    if args.splits:
        splits = [int(s) for s in args.splits.split(',')]
        unknown = [k for k in splits if k not in model.cut_facts]
        if unknown:
            print(f'partnner verify: {model.name} has no split {unknown}; splits are 0..{model.num_layers}',
                  file=sys.stderr)
            return 2
    failed = []
    checked = 0
    for k, diff, exact in verify(model, splits):
        checked += 1
        ok = exact or diff <= args.atol
        if not ok:
            failed.append(k)
        if args.verbose or not ok:
            shapes = ', '.join(_shape(s) for s in model.live_shapes(k))
            print(f"split {k:>3}: {'ok  ' if ok else 'FAIL'} max|diff| {diff:.3g}  live {shapes}")
    print(f'{model.name}: {checked - len(failed)}/{checked} splits match the full forward '
          f"({'bit-exact' if args.atol == 0 else f'atol {args.atol}'})"
          + (f'; mismatches at {failed}' if failed else ''))
    return 1 if failed else 0


def _profile_for(model: str, path: str | None, cache: str, log) -> dict:
    """A model's profile: from --profile, the cache folder, or measured now (and cached)."""
    from pathlib import Path
    if path:
        return json.loads(Path(path).read_text())
    cached = Path(cache) / f'{Path(model).stem}.json'
    if cached.exists():
        return json.loads(cached.read_text())
    from .core.models import load_model
    from .core.profiler import profile
    print(f'partnner: profiling {model} on this machine (cached in {cached})', file=log)
    result = profile(load_model(model))
    cached.parent.mkdir(parents=True, exist_ok=True)
    cached.write_text(json.dumps(result))
    return result


def cmd_simulate(args) -> int:
    from pathlib import Path

    from .core.evaluation import aggregate, format_table, summarize
    from .core.policies import POLICIES
    from .core.simulator import PLATFORMS, SIM_POLICIES, Platform, Scenario, SimProfile, run_all
    from .core.traces import Steps, load_traces
    wanted = SIM_POLICIES if args.policy == 'all' else tuple(args.policy.split(','))
    unknown = [p for p in wanted if p not in SIM_POLICIES and p not in POLICIES]
    if unknown or 'fixed' in wanted:
        print(f'partnner simulate: unknown policy {unknown or ["fixed"]}; choose from {", ".join(SIM_POLICIES)}',
              file=sys.stderr)
        return 2
    if args.platform in PLATFORMS:
        platform = PLATFORMS[args.platform]
    else:
        try:
            platform = Platform(args.platform, *[float(v) for v in args.platform.split(':')])
        except ValueError:
            print(f'partnner simulate: platform is one of {", ".join(PLATFORMS)} or EDGE_SLOWDOWN[:CLOUD_SPEEDUP]',
                  file=sys.stderr)
            return 2
    profile = SimProfile.from_profile(_profile_for(args.model, args.profile, args.profile_cache, sys.stderr),
                                      args.codec, args.input_codec)
    per_trace = {}
    for trace in load_traces(args.trace):
        sc = Scenario(profile, platform, trace, fps=args.fps, cloud_load=Steps.parse(args.cloud_load),
                      edge_load=Steps.parse(args.edge_load), delay_ms=args.delay_ms, duration_s=args.duration,
                      seed=args.seed)
        summary = summarize(run_all(sc, wanted), sc.change_times())
        per_trace[trace.name] = summary
        if not args.json:
            print(format_table(summary, f'\n{profile.name} on {platform.name}, trace {trace.name} '
                                        f'({trace.mean_mbps:.2f} Mbit/s mean, {sc.duration:.0f} s)'))
    overall = aggregate(list(per_trace.values()))
    if args.json:
        print(json.dumps({'model': profile.name, 'platform': platform.__dict__, 'codec': args.codec,
                          'traces': per_trace, 'overall': overall}, indent=1))
    elif len(per_trace) > 1:
        print(format_table(overall, f'\naverage over {len(per_trace)} traces'))
    return 0


def cmd_report(args) -> int:
    from pathlib import Path

    from .core.evaluation import ReportConfig, build_report
    profiles = {m: _profile_for(m, None, args.profile_cache, sys.stderr) for m in args.models.split(',')}
    out = Path(args.out)
    build_report(ReportConfig(profiles, Path(args.traces), tuple(args.platforms.split(',')),
                              args.traces_per_family, args.duration, codec=args.codec), out,
                 log=lambda line: print(line, file=sys.stderr))
    print(f'report written to {out / "report.md"} (data in report.json, plots *.png)')
    return 0


def cmd_demo(args) -> int:
    from pathlib import Path

    from .demo import DemoOptions, run_demo
    if args.split is not None and args.policy != 'fixed':
        print('partnner demo: --split goes with --policy fixed', file=sys.stderr)
        return 2
    return run_demo(DemoOptions(
        frames=args.frames, policy=args.policy, split=args.split, model=args.model, weights=args.weights or '',
        codec=args.codec, source=args.source, threads=args.threads, namespace=args.namespace,
        out=Path(args.out), json=args.json))


def cmd_bench(args) -> int:
    from pathlib import Path

    from .core.policies import POLICIES
    from .testbed.bench import BenchOptions, report_again, run_bench
    policies = tuple(p for p in args.policies.split(',') if p)
    bad = [p for p in policies if not ((p in POLICIES and p != 'fixed') or (p.startswith('fixed:') and p[6:].isdigit()))]
    if bad or not policies:
        print(f'partnner bench: unknown policies {bad}; use {", ".join(p for p in POLICIES if p != "fixed")} '
              'or fixed:K', file=sys.stderr)
        return 2
    if not args.edge_slowdown >= 1 or not args.duration > 0 or not args.fps > 0 or not 0 <= args.delay_ms <= 10_000:
        print('partnner bench: --edge-slowdown must be >= 1, --duration and --fps positive, --delay-ms in '
              '[0, 10000]', file=sys.stderr)
        return 2
    opts = BenchOptions(
        trace=args.trace, duration=args.duration, edge_slowdown=args.edge_slowdown, model=args.model,
        weights=args.weights or '', codec=args.codec, fps=args.fps, policies=policies, oracle=args.oracle,
        cloud_load=args.cloud_load, delay_ms=args.delay_ms, segment=args.segment, source=args.source,
        out=Path(args.out), tag=args.tag)
    return report_again(opts) if args.report_only else run_bench(opts)


def _layer_span(costs, stage) -> str:
    first, last = costs.layer_names[stage.start], costs.layer_names[stage.stop - 1]
    return f'layers {stage.start}..{stage.stop - 1} ({first} .. {last})'


def cmd_plan(args) -> int:
    from pathlib import Path

    import yaml

    from .core.models import load_model
    from .core.pipeline_plan import (ALGORITHMS, MB, Cluster, ModelCosts, acceleration_region, finite,
                                     layer_param_bytes, solve)
    cluster = Cluster.from_dict(yaml.safe_load(Path(args.devices).read_text()) or {})
    profile = _profile_for(args.model, args.profile, args.profile_cache, sys.stderr)
    costs = ModelCosts.from_profile(profile, layer_param_bytes(load_model(args.model)), args.codec, args.input_codec)
    solutions = {a: solve(a, costs, cluster, args.time_limit, args.seed)
                 for a in (ALGORITHMS if args.algo == 'all' else (args.algo,))}
    acc = acceleration_region(costs, cluster, args.time_limit, solutions.get('bnb'))
    devices = cluster.devices
    if args.json:
        print(json.dumps({
            'model': costs.name, 'layers': costs.num_layers, 'usable_cuts': len(costs.cuts),
            'param_mb': costs.param_bytes.sum() / MB, 'codec': args.codec,
            'input_codec': args.input_codec or args.codec,
            'source': None if cluster.source is None else devices[cluster.source].name,
            'devices': [{'name': d.name, 'speed': d.speed, 'memory_mb': finite(d.memory_bytes / MB),
                         'power_w': d.power_w, 'energy_budget_j': finite(d.energy_budget_j)} for d in devices],
            'plans': {a: s.to_dict() for a, s in solutions.items()}, 'acceleration': acc.to_dict()}, indent=1))
    else:
        print(f'{costs.name}: {costs.num_layers} layers, {len(costs.cuts)} usable cuts, '
              f'{costs.param_bytes.sum() / MB:.1f} MB of parameters; payload {args.codec}'
              + (f' (input {args.input_codec})' if args.input_codec else ''))
        print('devices: ' + ', '.join(f'{d.name} (speed {d.speed:g}, {d.memory_bytes / MB:.0f} MB)' for d in devices)
              + ('' if cluster.source is None else f'; frames from {devices[cluster.source].name}'))
        width = max(len(d.name) for d in devices)
        for algo, sol in solutions.items():
            if sol.plan is None:
                print(f'\n{algo}: no feasible plan ({sol.reason}); {sol.seconds * 1e3:.1f} ms')
                continue
            p = sol.plan
            status = 'optimal' if sol.optimal else (f'gap <= {100 * sol.gap:.1f}%' if sol.gap is not None else '')
            print(f'\n{algo}: bottleneck {p.bottleneck_s * 1e3:.1f} ms, {p.throughput_fps:.1f} frames/s, '
                  f'solved in {sol.seconds * 1e3:.1f} ms' + (f' ({status})' if status else ''))
            for i, s in enumerate(p.stages, 1):
                print(f'  stage {i}  {s.device_name:<{width}}  compute {s.compute_s * 1e3:7.1f} ms  '
                      f'input {s.transfer_in_s * 1e3:7.1f} ms  memory {s.memory_bytes / MB:7.1f} / '
                      f'{devices[s.device].memory_bytes / MB:.0f} MB  {_layer_span(costs, s)}')
        print(f'\nacceleration region: {acc.verdict}')
    return 0 if any(s.plan for s in solutions.values()) else 1


def cmd_plan_bench(args) -> int:
    from pathlib import Path

    from .core.cluster_bench import BenchConfig, markdown, run_bench, write
    from .core.models import load_model
    from .core.pipeline_plan import ModelCosts
    models = {}
    for name in args.models.split(','):
        print(f'partnner: loading {name}', file=sys.stderr)
        models[name] = ModelCosts.from_model(load_model(name), args.macs_per_s)
    low, high = (float(v) for v in args.memory_mb.split(','))
    cfg = BenchConfig(models, tuple(int(n) for n in args.nodes.split(',')), args.trials,
                      tuple(args.regimes.split(',')), (low, high), args.speed, args.time_limit, args.seed)
    result = run_bench(cfg, log=lambda line: print(line, file=sys.stderr))
    write(result, Path(args.out))
    print(markdown(result))
    print(f'written to {Path(args.out) / "plan_bench.md"} and plan_bench.json')
    return 0


def cmd_pipeline(args) -> int:
    from pathlib import Path

    from .pipeline import PipelineOptions, run_pipeline
    return run_pipeline(PipelineOptions(Path(args.plan), args.algo, args.duration, args.warmup, args.fps, args.codec,
                                        args.emulate_speeds, Path(args.out)))


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog='partnner', description=__doc__)
    sub = parser.add_subparsers(dest='command', required=True)

    p = sub.add_parser('models', help='list the built-in models')
    p.add_argument('--json', action='store_true')
    p.set_defaults(func=cmd_models)

    p = sub.add_parser('profile', help='per-cut live tensors, payload bytes, MACs and CPU ms on this machine')
    _add_model_args(p)
    p.add_argument('--codec', action='append', help='codec(s) to measure (repeatable; default: all)')
    p.add_argument('--repeats', type=int, default=5, help='timed forward passes (default 5)')
    p.add_argument('--json', action='store_true', help='print the full profile as JSON')
    p.set_defaults(func=cmd_profile)

    p = sub.add_parser('verify', help='check head + tail against the full forward at every split')
    _add_model_args(p)
    p.add_argument('--splits', help='comma-separated splits to check (default: all)')
    p.add_argument('--atol', type=float, default=0.0, help='tolerated max abs difference (default 0: bit-exact)')
    p.add_argument('-v', '--verbose', action='store_true', help='print every split')
    p.set_defaults(func=cmd_verify)

    p = sub.add_parser('demo', help='run camera, edge, cloud, manager and overlay as processes over DDS')
    p.add_argument('--frames', type=int, default=60, help='frames to run; 0: until Ctrl-C (default 60)')
    p.add_argument('--policy', default='partnner', help='partition policy: partnner (default), fixed, '
                                                        'edge_only, cloud_only, ans')
    p.add_argument('--split', type=int, help='split for --policy fixed (default: 0, cloud-only)')
    p.add_argument('--model', default='yolov8n', help='model (default yolov8n)')
    p.add_argument('--weights', help='local weights file; default: seeded random weights')
    p.add_argument('--codec', default='fp16+lz4', help='feature codec (default fp16+lz4)')
    p.add_argument('--source', default='bundled', help='camera source: bundled, synthetic, a folder, '
                                                        'an image or a video (default bundled)')
    p.add_argument('--threads', type=int, default=1, help='torch threads of the edge and of the cloud '
                                                          '(default 1 each, as two separate machines)')
    p.add_argument('--namespace', default='/partnner_demo', help='ROS namespace of the demo nodes')
    p.add_argument('--out', default='results/demo', help='where the overlay image, plot and logs go')
    p.add_argument('--json', action='store_true', help='print a machine-readable summary')
    p.set_defaults(func=cmd_demo)

    default_traces = os.environ.get('PARTNNER_TRACES', '../shared/traces')
    p = sub.add_parser('simulate', help='trace-driven simulation of the split policies against the oracle')
    p.add_argument('--model', required=True, help='model to simulate (profiled on this machine, then cached)')
    p.add_argument('--trace', required=True, help='a bandwidth trace file, or a folder of them')
    p.add_argument('--platform', default='edge10x', help='edge5x, edge10x (default), edge20x, or '
                                                         'EDGE_SLOWDOWN[:CLOUD_SPEEDUP], e.g. 8:2')
    p.add_argument('--policy', default='all', help='all, or a comma-separated list of '
                                                   'partnner,edge_only,cloud_only,best_static,neurosurgeon,ans')
    p.add_argument('--codec', default='fp16+lz4', help='feature codec (default fp16+lz4)')
    p.add_argument('--input-codec', default='jpeg', help='codec at split 0 (default jpeg)')
    p.add_argument('--fps', type=float, default=10.0, help='camera frame rate (default 10)')
    p.add_argument('--cloud-load', default='', help='cloud load schedule "s:factor,...", e.g. 0:1,30:3,60:1')
    p.add_argument('--edge-load', default='', help='edge load schedule, same form')
    p.add_argument('--delay-ms', type=float, default=20.0, help='one-way propagation delay (default 20)')
    p.add_argument('--duration', type=float, help='seconds per trace (default: the trace, at most 600)')
    p.add_argument('--seed', type=int, default=0, help='seed of the compute noise')
    p.add_argument('--profile', help='a profile JSON (partnner profile --json) instead of measuring')
    p.add_argument('--profile-cache', default='results/profiles', help='where measured profiles are kept')
    p.add_argument('--json', action='store_true')
    p.set_defaults(func=cmd_simulate)

    p = sub.add_parser('report', help='paper-style table: models x platforms x link families, and plots')
    p.add_argument('--models', default='yolov8n,yolo11n,ssdlite320_mobilenet_v3_large,resnet18,resnet50,'
                                       'mobilenet_v3_large', help='comma-separated models')
    p.add_argument('--platforms', default='edge5x,edge10x,edge20x')
    p.add_argument('--traces', default=default_traces, help='folder holding hsdpa/, fcc/ and oboe/ (default '
                                                          '$PARTNNER_TRACES, else ../shared/traces)')
    p.add_argument('--traces-per-family', type=int, default=4)
    p.add_argument('--duration', type=float, default=120.0, help='seconds per trace')
    p.add_argument('--codec', default='fp16+lz4')
    p.add_argument('--profile-cache', default='results/profiles')
    p.add_argument('--out', default='results/report')
    p.set_defaults(func=cmd_report)

    p = sub.add_parser('bench', help='the live system on an emulated robot, server and shaped link (root)',
                       description='Runs the nodes in two network namespaces (robot, server) joined by a tbf-shaped '
                                   'link that follows a bandwidth trace, the robot under a CPU quota; each policy '
                                   'and the fixed splits of the live oracle in turn; writes per-frame CSVs, '
                                   'summaries, plots and a report comparing live, oracle and simulator.')
    p.add_argument('--trace', required=True, help='a bandwidth trace file ("<seconds> <Mbit/s>" lines, e.g. '
                                                  '$PARTNNER_TRACES/hsdpa/norway_car_2.txt), steps:MBPS,...@SECONDS '
                                                  'or ramp:FROM,TO@SECONDS')
    p.add_argument('--duration', type=float, default=120.0, help='seconds of camera frames per run (default 120)')
    p.add_argument('--edge-slowdown', type=float, default=10.0,
                   help='how many times slower the robot runs the model than the server (default 10); the '
                        'quota is calibrated to it and the measured ratio reported')
    p.add_argument('--model', default='yolov8n', help='model (default yolov8n)')
    p.add_argument('--weights', help='local weights file; default: seeded random weights')
    p.add_argument('--codec', default='fp16+lz4', help='feature codec (default fp16+lz4)')
    p.add_argument('--fps', type=float, default=5.0, help='camera frame rate (default 5)')
    p.add_argument('--policies', default='partnner,edge_only,cloud_only,neurosurgeon,ans',
                   help='runs, comma-separated: policy names or fixed:K (default: the five policies)')
    p.add_argument('--oracle', default='auto', help='fixed splits run for the live oracle: auto (those the '
                                                   'simulated oracle and partnner use), all, none, or K,K,...')
    p.add_argument('--cloud-load', default='', help='server load steps "seconds:factor,...": factor f caps the '
                                                    'cloud at 1/f CPU, e.g. 40:3,80:1')
    p.add_argument('--delay-ms', type=float, default=0.0, help='one-way propagation delay, added by a user-space '
                                                               'delay line (default 0)')
    p.add_argument('--segment', type=float, default=10.0, help='longest oracle segment in seconds (default 10)')
    p.add_argument('--source', default='bundled', help='camera source (default: the bundled photos)')
    p.add_argument('--out', default='results/bench', help='results folder (default results/bench)')
    p.add_argument('--tag', default='bench', help='names the namespaces, devices and cgroups (at most 10 '
                                                  'characters), so two benches can run side by side')
    p.add_argument('--report-only', action='store_true', help='write the report again from the runs in --out '
                                                              '(same scenario flags; no root needed)')
    p.set_defaults(func=cmd_bench)

    p = sub.add_parser(
        'plan', help='split a model into a pipeline over several devices (throughput-optimal)',
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description='Cuts the model into contiguous blocks, one device each, minimising the bottleneck\n'
                    '(slowest stage compute or link transfer) within each device\'s memory (parameters plus\n'
                    'peak activations) and energy budget, and says whether splitting beats the best single\n'
                    'device (the acceleration region).\n\nThe device file (YAML; see '
                    'config/devices_example.yaml):\n\n'
                    '  source: robot        # optional: the device whose camera produces the frames\n'
                    '  devices:             # speed: x the machine that profiled the model\n'
                    '    - {name: robot, speed: 0.15, memory_mb: 512, power_w: 5, energy_budget_j: 0.5}\n'
                    '    - {name: laptop, speed: 1.0, memory_mb: 8192}\n'
                    '  links:               # Mbit/s, both directions; unlisted pairs have no link\n'
                    '    - [robot, laptop, 20]\n'
                    '  # or bandwidth_mbps: [[0, 20], [20, 0]]   (row: from, column: to)')
    p.add_argument('--model', required=True, help='model to plan (profiled on this machine, then cached)')
    p.add_argument('--devices', required=True, help='the device file (YAML)')
    p.add_argument('--algo', default='all', choices=('all', 'bnb', 'dp', 'greedy', 'random'),
                   help='bnb: exact branch-and-bound; dp: exact for the devices in file order; greedy: fill '
                        'each device to capacity; random (default all)')
    p.add_argument('--time-limit', type=float, default=10.0,
                   help='seconds for branch-and-bound; past it the best plan and the gap are shown (default 10)')
    p.add_argument('--codec', default='fp32', help='payload codec between stages (default fp32)')
    p.add_argument('--input-codec', help='codec of the input image, e.g. jpeg (default: --codec)')
    p.add_argument('--seed', type=int, default=0, help='seed of the random planner')
    p.add_argument('--profile', help='a profile JSON (partnner profile --json) instead of measuring')
    p.add_argument('--profile-cache', default='results/profiles', help='where measured profiles are kept')
    p.add_argument('--json', action='store_true')
    p.set_defaults(func=cmd_plan)

    p = sub.add_parser('plan-bench', help='random vs greedy vs branch-and-bound on random edge clusters '
                                          '(Parthasarathy & Krishnamachari)')
    p.add_argument('--out', default='results/plan_bench', help='results folder (default results/plan_bench)')
    p.add_argument('--trials', type=int, default=50, help='random clusters per row (default 50)')
    p.add_argument('--nodes', default='5,10,20,50', help='cluster sizes (default 5,10,20,50)')
    p.add_argument('--models', default='resnet50,efficientnet_b0,efficientnet_b1,mobilenet_v2,inception_v3',
                   help='comma-separated models')
    p.add_argument('--regimes', default='uniform,smallest',
                   help='memory regimes: uniform (each node its own) and/or smallest (all get the least)')
    p.add_argument('--memory-mb', default='64,512', help='node memory range in MB (default 64,512)')
    p.add_argument('--speed', type=float, default=1.0, help='every node\'s speed, x the reference (default 1)')
    p.add_argument('--macs-per-s', type=float, default=1e10,
                   help='the reference: MACs per second of a speed-1 node (default 1e10)')
    p.add_argument('--time-limit', type=float, default=10.0, help='seconds per branch-and-bound (default 10)')
    p.add_argument('--seed', type=int, default=0)
    p.set_defaults(func=cmd_plan_bench)

    p = sub.add_parser('pipeline', help='run a pipeline plan as stage nodes on this machine and measure its '
                                        'throughput against the prediction',
                       description='Starts one node per stage of a plan (partnner plan --json), holds each to its '
                                   "device's speed with a CPU quota (root), feeds camera frames faster than the "
                                   'pipeline takes them, and compares the measured results per second with the '
                                   "plan's prediction on this machine.")
    p.add_argument('plan', help='a plan file: the output of partnner plan --json')
    p.add_argument('--algo', default='bnb', help='which plan in the file (default bnb)')
    p.add_argument('--duration', type=float, default=60.0, help='seconds of camera frames (default 60)')
    p.add_argument('--warmup', type=float, default=10.0, help='seconds of results not counted (default 10)')
    p.add_argument('--fps', type=float, default=30.0, help='camera rate, above the pipeline\'s (default 30)')
    p.add_argument('--codec', default='fp16+lz4', help='codec between stages (default fp16+lz4)')
    p.add_argument('--no-emulate-speeds', dest='emulate_speeds', action='store_false',
                   help='run every stage at full speed (no root needed)')
    p.add_argument('--out', default='results/pipeline', help='logs, per-frame CSV and pipeline.json')
    p.set_defaults(func=cmd_pipeline)
    return parser


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except (FileNotFoundError, ValueError) as e:
        print(f'partnner {args.command}: {e}', file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
