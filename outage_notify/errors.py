"""Refusals: conditions in which a process must not go on, with a message that says what to do
(a command prints it on one line and exits 1; `serve` and `worker` stop before serving)."""


class Refusal(RuntimeError):
    pass
