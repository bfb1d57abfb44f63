"""Parameters with descriptors, ranges and run-time validation, cached in memory.

Nodes read ``self.params.values[name]`` on the hot path instead of calling
``get_parameter()`` per frame; live changes are validated by the checks given at
declaration (a bad value is rejected with a reason and the node keeps running)
and then applied to the cache and to optional ``on_change`` callbacks.
"""

import re
from typing import Any, Callable

from rcl_interfaces.msg import FloatingPointRange, IntegerRange, ParameterDescriptor, SetParametersResult

Check = Callable[[Any], str | None]  # returns a reason when the value is bad


class ParameterError(ValueError):
    """A parameter's override or default could not be declared or failed its check at start-up."""


def one_of(choices) -> Check:
    """A check that accepts only the given values, and names them when it rejects one."""
    choices = tuple(choices)
    return lambda v: None if v in choices else f'must be one of {", ".join(map(str, choices))}'


NAME = re.compile(r'^[A-Za-z][A-Za-z0-9_]*$')


def server_name(value: str) -> str | None:
    """A check for a server's name: empty (the unnamed server) or one ROS name token."""
    return None if not value or NAME.match(value) else 'a server name is a letter, then letters, digits and _'


class Params:
    """A node's declared parameters: ``values`` caches them, live changes are checked, then applied."""

    def __init__(self, node):
        self.node = node
        self.values: dict[str, Any] = {}
        self._checks: dict[str, Check] = {}
        self._on_change: dict[str, Callable[[Any], None]] = {}
        node.add_on_set_parameters_callback(self._validate)
        node.add_post_set_parameters_callback(self._apply)

    def declare(self, name: str, default: Any, description: str, *, read_only: bool = False,
                int_range: tuple[int, int] | None = None, float_range: tuple[float, float] | None = None,
                check: Check | None = None, on_change: Callable[[Any], None] | None = None) -> Any:
        """Declare ``name`` with its descriptor, range and check, and return its value (the override, if any);
        raises ParameterError when rclpy refuses it or the check rejects it.
        """
        descriptor = ParameterDescriptor(description=description, read_only=read_only)
        if int_range is not None:
            descriptor.integer_range = [IntegerRange(from_value=int_range[0], to_value=int_range[1], step=1)]
        if float_range is not None:
            descriptor.floating_point_range = [
                FloatingPointRange(from_value=float(float_range[0]), to_value=float(float_range[1]), step=0.0)]
        if check is not None:
            self._checks[name] = check
        try:
            value = self.node.declare_parameter(name, default, descriptor).value
        except Exception as e:  # rclpy raises several exception types for a bad override
            raise ParameterError(f'parameter {name!r}: {e}') from None
        reason = check(value) if check else None
        if reason:
            raise ParameterError(f'parameter {name!r} = {value!r}: {reason}')
        self.values[name] = value
        if on_change is not None:
            self._on_change[name] = on_change
        return value

    def _validate(self, parameters) -> SetParametersResult:
        for p in parameters:
            check = self._checks.get(p.name)
            reason = check(p.value) if check else None
            if reason:
                return SetParametersResult(successful=False, reason=f'{p.name}: {reason}')
        return SetParametersResult(successful=True)

    def _apply(self, parameters) -> None:
        # one new dict, swapped in whole: a thread holding the old one (an edge frame) sees all of an
        # atomic set or none of it, never a split with the codec of another
        changed = {p.name: p.value for p in parameters if p.name in self.values}
        self.values = {**self.values, **changed}
        for name, value in changed.items():
            if name in self._on_change:
                self._on_change[name](value)
