"""One service request at a time, with a deadline: a node that dies or freezes mid-request must not
leave its caller waiting for ever.
"""


class Outstanding:
    """The one request in flight to a service. A new one may start once it is answered or given up
    on (``busy`` gives up after ``timeout_s``); the answer to a request given up on is ignored.
    """

    def __init__(self, timeout_s: float):
        self.timeout_s = timeout_s
        self.future = None
        self.since = 0.0
        self.timeouts = 0

    def busy(self, now: float) -> bool:
        """Whether a request is in flight and still within its deadline (past it, it is dropped)."""
        if self.future is None:
            return False
        if now - self.since < self.timeout_s:
            return True
        future, self.future = self.future, None
        future.cancel()
        self.timeouts += 1
        return False

    def start(self, future, now: float, on_answer) -> None:
        """Follow ``future`` (sent at ``now``): ``on_answer(future)`` runs when it is answered in time."""
        self.future, self.since = future, now
        future.add_done_callback(lambda f: self._answered(f, on_answer))

    def _answered(self, future, on_answer) -> None:
        if future is not self.future:
            return
        self.future = None
        on_answer(future)
