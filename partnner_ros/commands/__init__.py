"""The partnner command line: one module per subcommand.

Each module has ``HELP`` (its line in ``partnner --help``), optionally ``DESCRIPTION``,
``add_arguments(parser)`` and ``run(args) -> exit code``; :mod:`partnner_ros.cli` wires
them up. Modules import heavy libraries (torch, rclpy) inside ``run``, so that
``partnner --help`` stays fast. Experiment harnesses that write result folders live
here, next to their command.
"""
