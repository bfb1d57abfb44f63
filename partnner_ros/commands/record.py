"""``partnner record``: record a running robot to MCAP (the recorder node, in this process)."""

import argparse
import time

HELP = "record a running robot's frame timings, states, results and diagnostics to an MCAP file"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument('out', help='the MCAP file to write')
    p.add_argument('--namespace', default='/', help="the robot's namespace (where its edge and manager run)")
    p.add_argument('--features', action='store_true', help='also record the features sent to the server (large)')
    p.add_argument('--images', action='store_true', help='also record the camera images (large)')
    p.add_argument('--duration', type=float, default=0.0, help='seconds to record; 0: until Ctrl-C (default)')


def run(args) -> int:
    import rclpy
    from rclpy.executors import ExternalShutdownException

    from ..nodes.params import ParameterError
    from ..nodes.recorder import Recorder
    rclpy.init(args=['--ros-args', '-r', f'__ns:={args.namespace}', '-p', f'out:={args.out}',
                     '-p', f'record_features:={args.features}', '-p', f'record_images:={args.images}'])
    node = None
    try:
        node = Recorder()
        end = time.monotonic() + args.duration if args.duration > 0 else float('inf')
        while rclpy.ok() and time.monotonic() < end:
            rclpy.spin_once(node, timeout_sec=0.2)
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    except (ParameterError, FileNotFoundError) as e:
        print(f'partnner record: {e}')
        return 2
    finally:
        if node is not None:
            print(f'partnner record: {node.writer.messages} messages in {node.writer.path}')
            node.destroy_node()
        rclpy.try_shutdown()
    return 0
