"""uvicorn's HTTP/1.1 protocol (h11) with a deadline for each request's headers.

uvicorn closes a connection idle between requests (`timeout_keep_alive`), but not one that
sends its request headers a byte at a time (slowloris): such connections never reach the app,
so neither `body_timeout` nor `max_concurrent_requests` sees them. Here a connection whose
next request's headers are not complete `header_timeout` seconds after it opened (or after
its previous response) is closed. `mmkp serve` runs uvicorn with this protocol; the timeout is
the `header_timeout` setting, which each worker reads from the MMKP_SERVE environment.
"""

from __future__ import annotations

import asyncio
import functools
import json
import os
from typing import Any

import h11
from uvicorn.protocols.http.h11_impl import H11Protocol

from mmkp.serve.settings import ENVIRONMENT, ServeSettings


@functools.cache
def _from_environment(raw: str) -> float:
    return float(json.loads(raw)["settings"].get("header_timeout", ServeSettings.header_timeout))


class HeaderDeadlineProtocol(H11Protocol):
    """H11Protocol that closes a connection whose request headers come too slowly."""

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        raw = os.environ.get(ENVIRONMENT)
        self.header_timeout = _from_environment(raw) if raw else ServeSettings.header_timeout
        self._header_deadline: asyncio.TimerHandle | None = None

    def _arm(self) -> None:
        self._disarm()
        self._header_deadline = self.loop.call_later(self.header_timeout, self._headers_late)

    def _disarm(self) -> None:
        if self._header_deadline is not None:
            self._header_deadline.cancel()
            self._header_deadline = None

    def _headers_late(self) -> None:
        if self.conn.their_state is h11.IDLE and not self.transport.is_closing():
            self.transport.close()  # no complete request line and headers yet

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm()

    def handle_events(self) -> None:
        super().handle_events()
        if self.conn.their_state is not h11.IDLE:  # the headers are in: the app's limits apply
            self._disarm()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        if not self.transport.is_closing():
            self._arm()  # the next request on this connection

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)
