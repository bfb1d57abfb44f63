"""main() for every node: init, spin, and a clean exit on Ctrl-C or a bad start."""

import sys

import rclpy
from rclpy.executors import ExternalShutdownException

from ..core.codec import UnknownCodec
from .params import ParameterError


def run(node_class, args=None) -> int:
    rclpy.init(args=args)
    node = None
    try:
        node = node_class()
        rclpy.spin(node)
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    except (ParameterError, FileNotFoundError, UnknownCodec) as e:
        print(f'[{node_class.__name__}] cannot start: {e}', file=sys.stderr)
        return 1
    finally:
        if node is not None:
            node.destroy_node()
        rclpy.try_shutdown()
    return 0
