"""The ``partnner`` command: one subcommand per module in :mod:`partnner_ros.commands`."""

import argparse
import sys

from .commands import (
    bench,
    demo,
    fleet,
    models,
    pipeline,
    plan,
    plan_bench,
    profile,
    record,
    replay,
    report,
    simulate,
    verify,
)

COMMANDS = {
    'models': models, 'profile': profile, 'verify': verify, 'demo': demo, 'simulate': simulate,
    'report': report, 'bench': bench, 'plan': plan, 'plan-bench': plan_bench, 'pipeline': pipeline, 'fleet': fleet,
    'record': record, 'replay': replay,
}


def build_parser() -> argparse.ArgumentParser:
    """The ``partnner`` argument parser, with one subparser per command module."""
    parser = argparse.ArgumentParser(
        prog='partnner', description='Adaptive edge/cloud split inference for vision DNNs (PArtNNer) on ROS 2.')
    sub = parser.add_subparsers(dest='command', required=True, title='commands', metavar='COMMAND')
    for name, module in COMMANDS.items():
        raw = getattr(module, 'RAW_DESCRIPTION', False)
        p = sub.add_parser(name, help=module.HELP, description=getattr(module, 'DESCRIPTION', module.HELP),
                           formatter_class=argparse.RawDescriptionHelpFormatter if raw else argparse.HelpFormatter)
        module.add_arguments(p)
        p.set_defaults(func=module.run)
    return parser


def main(argv=None) -> int:
    """Run the ``partnner`` command; returns its exit code (2 for a missing file or bad value, 130 on Ctrl-C)."""
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except (FileNotFoundError, ValueError) as e:
        print(f'partnner {args.command}: {e}', file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    except ModuleNotFoundError as e:
        if not _is_ros(e.name or ''):
            raise
        print(f'partnner {args.command} needs ROS 2: {e.name} is not importable. Build the package with colcon '
              f'and source its install/setup.bash, or run ./run partnner {args.command} from the repository.',
              file=sys.stderr)
        return 2


def _is_ros(module: str) -> bool:
    """Whether ``module`` comes from ROS 2 or from the colcon build of this package's messages."""
    top = module.split('.')[0]
    return top.startswith('rcl') or top.endswith(('_msgs', '_interfaces')) or module == 'partnner_ros.msg'
