"""Django's ASGI handler, without the reference cycles it leaves behind each HTTP request.

Django's ``ASGIHandler`` leaves every request it serves in reference cycles
that only the cyclic garbage collector frees (about 110 objects a request,
measured under ``bench/gateway_load.py``):

- the task listening for the client's disconnect ends with an error: with
  ``RequestAborted`` when the server reports the disconnect (uvicorn does as
  soon as the response is complete), or with the ``CancelledError`` of
  ``handle`` cancelling it. ``handle`` catches either, and its traceback passes
  through ``handle``'s frame, which holds the task that holds the error. That
  frame holds the request, both tasks, their coroutines and contexts;
- the request itself is a cycle once the middleware has run: ``request.user``
  is a lazy object whose function points back at the request (authentication),
  as do ``request.auser`` and ``request._messages`` (messages).

A process that serves a burst of token requests (every visitor's SDK asks for
one when it connects) then holds a few hundred thousand such objects, and the
collector's full pass that frees them paused the process for 400 to 560 ms,
every socket with it (docs/performance.md, "Seventh session"). Here the
listener ends without an error (``handle`` treats a listener that ended first
as a disconnect either way, and ignores its ``RequestAborted``), and a
request's attributes are dropped once its response has been sent and closed,
so reference counting frees both.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any, cast

from django.core.exceptions import RequestAborted
from django.core.handlers.asgi import ASGIHandler as DjangoASGIHandler

_REQUEST = "parley.request"


class ASGIHandler(DjangoASGIHandler):
    async def listen_for_disconnect(self, receive: Any) -> None:
        try:
            await super().listen_for_disconnect(receive)
        except (RequestAborted, asyncio.CancelledError):
            # The client left, or the response is complete and ``handle`` stops listening: end
            # without an error, whose traceback would hold ``handle``'s frame in a cycle.
            return

    def create_request(self, scope: Mapping[str, Any], body_file: Any) -> Any:
        request, error_response = super().create_request(scope, body_file)
        cast(dict[str, Any], scope)[_REQUEST] = request  # ``handle`` passes the server's scope, a dict
        return request, error_response

    async def handle(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        try:
            await super().handle(scope, receive, send)
        except BaseException:
            # Cancelled (a server's shutdown or close timeout) or failed: the view's task may
            # still run with the request, so it is left whole, to the collector.
            scope.pop(_REQUEST, None)
            raise
        request = scope.pop(_REQUEST, None)
        if request is not None:
            # Sent and closed: nothing reads the request any more. Its attributes point back at it
            # (the user's lazy function, the messages' storage); without them it is freed.
            request.__dict__.clear()
