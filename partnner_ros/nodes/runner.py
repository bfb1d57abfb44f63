"""main() for every node: init, spin, and a clean exit on Ctrl-C, SIGTERM or a bad start."""

import signal
import sys
import time

import rclpy
from rclpy.executors import ExternalShutdownException, SingleThreadedExecutor
from rclpy.signals import SignalHandlerOptions

WAKE_S = 0.2  # how often the spin loop looks for a stop request (the longest a stop waits)


def run(node_class, args=None, drain_s: float = 0.0, executor_class=SingleThreadedExecutor) -> int:
    """Spin a ``node_class`` node until Ctrl-C, SIGTERM or shutdown and return 0; return 1 when it cannot
    start (bad parameters, model, weights or source: ValueError or FileNotFoundError).

    The signals only ask the loop to stop: the context stays up while ``destroy_node`` joins the node's
    threads, so none of them publishes into a shut-down context. With ``drain_s``, callbacks already
    delivered are still run for that long first (a recorder keeps the last messages sent to it).
    ``executor_class`` spins the node (rclpy's SingleThreadedExecutor unless the node asks otherwise).
    """
    rclpy.init(args=args, signal_handler_options=SignalHandlerOptions.NO)
    stopping = []

    def stop(*_):
        if stopping:  # asked twice: the user wants out now
            raise KeyboardInterrupt
        stopping.append(True)

    previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGINT, signal.SIGTERM)}
    node = None
    try:
        node = node_class()
        executor = executor_class()
        executor.add_node(node)
        while not stopping and rclpy.ok():
            executor.spin_once(timeout_sec=WAKE_S)
        deadline = time.monotonic() + drain_s
        while rclpy.ok() and time.monotonic() < deadline:
            executor.spin_once(timeout_sec=0.05)
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    except (ValueError, FileNotFoundError) as e:  # bad parameters, models, weights or sources
        print(f'[{node_class.__name__}] cannot start: {e}', file=sys.stderr)
        return 1
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        if node is not None:
            node.destroy_node()
        rclpy.try_shutdown()
    return 0
