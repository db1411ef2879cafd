"""Wrong credentials, per client (application/failed_credentials.py): each one logged (never what
was sent), and a client with too many in a minute answered 429 without its credentials compared."""

from __future__ import annotations

import logging
import math

from flask import Flask, current_app, request

from application.failed_credentials import LIMIT, WINDOW, FailedCredentials, TooManyFailures
from entrypoints.api.errors import error_response

log = logging.getLogger("recsys.auth")


class FailedAttempts:
    """The request's client, as FailedCredentials counts it."""

    def __init__(self, counted: FailedCredentials) -> None:
        self.counted = counted

    def check(self) -> None:
        """Raises TooManyFailures while the caller is refused."""
        self.counted.check(request.remote_addr)

    def failed(self, credential: str, sent: str) -> None:
        """`credential` (what kind) was wrong; `sent` (what was sent) is neither logged nor kept:
        the same one sent again within the window counts once per process. As the same kind of
        credential only: X-API-Key a with Bearer b, then Basic a:b to xAPI, compare other
        secrets, and would otherwise count once."""
        address = str(request.remote_addr)
        count = self.counted.failed(request.remote_addr, f"{credential}\0{sent}")
        log.warning(
            "wrong %s from %s (%s %s)%s",
            credential,
            address,
            request.method,
            request.path,
            f": refused for {WINDOW.total_seconds():.0f} s" if count == LIMIT else "",
            extra={"remote_addr": address, "credential": credential},
        )


def failed_attempts() -> FailedAttempts:
    return current_app.extensions["recsys.failed_attempts"]  # type: ignore[no-any-return]


def install(app: Flask, counted: FailedCredentials) -> None:
    app.extensions["recsys.failed_attempts"] = FailedAttempts(counted)

    @app.errorhandler(TooManyFailures)
    def too_many(error: TooManyFailures):  # type: ignore[no-untyped-def]
        response, status = error_response(429, "too_many_failures", str(error))
        response.headers["Retry-After"] = str(math.ceil(error.seconds))
        return response, status
