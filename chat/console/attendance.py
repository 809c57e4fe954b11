"""Presence follows the agent console: the console sockets of one event loop, as the database knows them.

Each console socket has a row (``engage.models.ConsoleConnection``) from its
``connect`` to its ``disconnect``. While a loop serves console sockets, it
touches their rows every ``PARLEY_CONSOLE_HEARTBEAT`` seconds and runs the
sweep (``engage.services.console_connections_sweep``), which settles the
sockets other processes closed or left behind when they stopped. When a
socket closes, its agent's presence is checked ``PARLEY_CONSOLE_OFFLINE_AFTER``
seconds later: with no console socket open anywhere by then, the agent goes
offline (``membership_offline_if_unattended``). A reload, or a network that
drops for a few seconds, opens a socket again within that time and changes
nothing.

Timers are the loop's own (``call_later``), not tasks: a loop that closes
drops them without a trace, and the sweep settles what they would have.
"""

from __future__ import annotations

import asyncio
import logging
import weakref
from typing import Any

from django.conf import settings
from django.utils import timezone

from engage import services
from engage.lib import loops
from engage.lib.consumers import in_worker
from engage.models import Membership

logger = logging.getLogger(__name__)


class Attendance:
    """The console sockets of one event loop: their rows, their heartbeat, their agents' checks.

    It holds no reference to its loop (the loop's timers hold it), so that the loop's entry in
    ``_ATTENDANCE`` goes with the loop."""

    def __init__(self) -> None:
        self.open: dict[str, tuple[int, int]] = {}  # channel name → (membership id, tenant id), of sockets open here
        self.heartbeat: asyncio.TimerHandle | None = None

    async def opened(self, membership: Membership, key: str) -> None:
        """Records the socket; starts the loop's heartbeat if it is the loop's first."""
        await in_worker(services.console_connection_opened)(membership=membership, key=key)
        self.open[key] = (membership.pk, membership.tenant_id)
        if self.heartbeat is None:
            self.heartbeat = asyncio.get_running_loop().call_later(settings.PARLEY_CONSOLE_HEARTBEAT, self._beat)

    async def closed(self, key: str) -> None:
        """Marks the socket closed, and checks its agent once the grace is up."""
        if self.open.pop(key, None) is None:
            return  # never recorded: refused at the handshake, or its row could not be written
        since = timezone.now()
        try:
            membership_id = await in_worker(services.console_connection_closed)(key=key)
        except Exception:  # its row stays open, untouched from now on: the sweep settles it as stale
            logger.exception("console presence: could not record a closed console socket")
            return
        if membership_id is not None:
            loop = asyncio.get_running_loop()
            loop.call_later(settings.PARLEY_CONSOLE_OFFLINE_AFTER, self._check, membership_id, since)

    def _check(self, membership_id: int, since: Any) -> None:
        self._run(services.membership_offline_if_unattended, membership_id=membership_id, since=since)

    def _beat(self) -> None:
        self.heartbeat = None
        if not self.open:
            return  # the next socket starts it again; the sweep also runs from Celery beat
        self._run(services.console_heartbeat, sockets=dict(self.open))
        self.heartbeat = asyncio.get_running_loop().call_later(settings.PARLEY_CONSOLE_HEARTBEAT, self._beat)

    @staticmethod
    def _run(function: Any, **kwargs: Any) -> None:
        loops.start(in_worker(function)(**kwargs))  # held until done, its failure logged


_ATTENDANCE: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, Attendance] = weakref.WeakKeyDictionary()


def attendance() -> Attendance:
    """The running loop's console sockets (made on first use)."""
    loop = asyncio.get_running_loop()
    found = _ATTENDANCE.get(loop)
    if found is None:
        found = _ATTENDANCE[loop] = Attendance()
    return found
