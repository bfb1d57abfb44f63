"""main() for every node: init, spin, and a clean exit on Ctrl-C, SIGTERM or a bad start."""

import signal
import sys
import time

import rclpy
from rclpy.executors import Executor, ExternalShutdownException, SingleThreadedExecutor
from rclpy.signals import SignalHandlerOptions
from rclpy.task import Future

WAKE_S = 0.2  # how often the wait-set executor's loop looks for a stop request (the longest a stop waits)
# a stop ends the events executor's spin at once; each spin leaves a callback on the stop future, so few
EVENTS_SPIN_S = 600.0


def run(node_class, args=None, drain_s: float = 0.0, executor_class=SingleThreadedExecutor) -> int:
    """Spin a ``node_class`` node until Ctrl-C, SIGTERM or shutdown and return 0; return 1 when it cannot
    start (bad parameters, model, weights or source: ValueError or FileNotFoundError).

    The signals only ask the loop to stop: the context stays up while ``destroy_node`` joins the node's
    threads, so none of them publishes into a shut-down context. With ``drain_s``, callbacks already
    delivered are still run for that long first (a recorder keeps the last messages sent to it).
    ``executor_class`` spins the node (rclpy's SingleThreadedExecutor unless the node asks otherwise).
    """
    rclpy.init(args=args, signal_handler_options=SignalHandlerOptions.NO)
    stopping = Future()

    def stop(*_):
        if stopping.done():  # asked twice: the user wants out now
            raise KeyboardInterrupt
        stopping.set_result(True)

    previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGINT, signal.SIGTERM)}
    node = None
    try:
        node = node_class()
        executor = executor_class()
        executor.add_node(node)
        while not stopping.done() and rclpy.ok():
            _spin(executor, stopping)
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


def _spin(executor, stopping: Future) -> None:
    """Run callbacks for a while. rclpy's events executor takes one event per ``spin_once`` and a return
    to Python costs it about what a message does, so it spins until ``stopping`` is done instead: the signal
    handler runs with the next callback (every node has a 1 s diagnostics timer) and ends the spin. (In
    rclpy 9.1 its ``spin_until_future_complete`` runs no callback at all without a timeout.)
    """
    if isinstance(executor, Executor):
        executor.spin_once(timeout_sec=WAKE_S)
    else:
        executor.spin_until_future_complete(stopping, timeout_sec=EVENTS_SPIN_S)
