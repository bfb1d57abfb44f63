"""main() for every node: init, spin, and a clean exit on Ctrl-C or a bad start."""

import sys

import rclpy
from rclpy.executors import ExternalShutdownException


def run(node_class, args=None) -> int:
    """Spin a ``node_class`` node until Ctrl-C or shutdown and return 0; return 1 when it cannot start
    (bad parameters, model, weights or source: ValueError or FileNotFoundError).
    """
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
