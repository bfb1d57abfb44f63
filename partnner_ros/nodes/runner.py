"""main() for every node: init, spin, and a clean exit on Ctrl-C or a bad start."""

import sys

import rclpy
from rclpy.executors import ExternalShutdownException


def run(node_class, args=None) -> int:
    rclpy.init(args=args)
    node = None
    try:
        node = node_class()
        rclpy.spin(node)
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    except (ValueError, FileNotFoundError) as e:  # bad parameters, models, weights or sources
        print(f'[{node_class.__name__}] cannot start: {e}', file=sys.stderr)
        return 1
    finally:
        if node is not None:
            node.destroy_node()
        rclpy.try_shutdown()
    return 0
