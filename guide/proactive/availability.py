"""The answer to "execute only if agents are available": a probability in [0, 1].

Today it is 0 or 1, from the same rule as the visitor protocol's availability
(``chat.selectors.channel_availability``: an agent serving one of the channel's
queues is available and has a free slot), so the button's online state and the
trigger's decision never disagree. The client honours any value in between
(docs/proactive.md).
"""

from __future__ import annotations

from chat.selectors import channel_availability
from engage.models import Channel


def channel_probability(*, channel: Channel) -> float:
    """1.0 when an agent can take a new conversation on ``channel`` now, else 0.0."""
    return 1.0 if channel_availability(channel) == "online" else 0.0
