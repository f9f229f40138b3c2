"""Refusals: conditions in which a process must not go on, with a message that says what to do
(a command prints it on one line and exits 1; `serve` and `worker` stop before serving)."""


class Refusal(RuntimeError):
    pass


class ActionRefused(ValueError):
    """An agent's action that cannot be done as asked, and why: `message` in plain English (the
    API's error message), `code` a short stable name a page translates (with `params` filled
    into its sentence), `status` the HTTP status an API answers with (404, 409 or 422)."""

    def __init__(self, message: str, *, code: str, status: int = 422, **params: str) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.status = status
        self.params = params
