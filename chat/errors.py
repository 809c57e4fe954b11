"""Domain errors of conversations."""

from engage.errors import Conflict, InvalidInput, NotFound


class ThreadNotFound(NotFound):
    """Unknown thread."""

    code = "thread_not_found"


class ThreadLocked(Conflict):
    """The thread is locked: no new messages from the customer until an agent unlocks it."""

    code = "thread_locked"


class ThreadLimitReached(Conflict):
    """This channel allows one thread per customer."""

    code = "thread_limit_reached"


class InvalidContent(InvalidInput):
    """The message content is invalid."""

    code = "invalid_content"


class InvalidTransition(Conflict):
    """That status change is not allowed."""

    code = "invalid_transition"


class ContactClosed(Conflict):
    """The contact is closed."""

    code = "contact_closed"


class NotYourTenant(NotFound):
    """Not found. (The object belongs to another tenant; we do not say so.)"""

    code = "not_found"


class AgentAtCapacity(Conflict):
    """The agent has no free capacity."""

    code = "agent_at_capacity"


class AlreadyAssigned(Conflict):
    """Another agent already has this contact."""

    code = "already_assigned"


class NotQueueMember(Conflict):
    """The agent does not serve this contact's queue."""

    code = "not_queue_member"
