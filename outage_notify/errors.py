"""Refusals: conditions in which a process must not go on, with a message that says what to do
(a command prints it on one line and exits 1; `serve` and `worker` stop before serving); and
the coded refusal of one input, which an API says in English and a page in its reader's
language."""

from __future__ import annotations


class Refusal(RuntimeError):
    pass


class CodedError(ValueError):
    """Input that cannot be used as given, and why: `message` in plain English (an API's error
    message), `code` a short stable name a page translates (with `params` filled into its
    sentence); None where no page shows it yet, and a page then words it generally."""

    def __init__(self, message: str, *, code: str | None = None, **params: object) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.params = params


class ActionRefused(CodedError):
    """An agent's action that cannot be done as asked; `status` the HTTP status an API answers
    with (404, 409 or 422)."""

    def __init__(self, message: str, *, code: str, status: int = 422, **params: object) -> None:
        super().__init__(message, code=code, **params)
        self.status = status
