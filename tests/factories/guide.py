"""Factories of proactive engagement rows (guide app)."""

from __future__ import annotations

from typing import Any

from engage.models import Channel
from guide.models import ChatButton, CustomVariable, Invitation, Trigger, TriggerAction, TriggerCondition


def trigger_create(
    channel: Channel,
    *,
    name: str = "Trigger",
    conditions: list[dict[str, Any]] = (),  # type: ignore[assignment]
    actions: list[dict[str, Any]] = (),  # type: ignore[assignment]
    **options: Any,
) -> Trigger:
    """A trigger with conditions ({fact, operator, value, variable?, ignore_case?}) and actions, all validated."""
    trigger = Trigger(tenant=channel.tenant, channel=channel, name=name, **options)
    trigger.full_clean()
    trigger.save()
    for order, values in enumerate(conditions):
        condition = TriggerCondition(trigger=trigger, order=order, tenant=channel.tenant, **values)
        condition.full_clean(exclude=["tenant"])
        condition.save()
    for order, values in enumerate(actions):
        action = TriggerAction(trigger=trigger, order=order, tenant=channel.tenant, **values)
        action.full_clean(exclude=["tenant"])
        action.save()
    return trigger


def button_create(channel: Channel, **values: Any) -> ChatButton:
    button = ChatButton(tenant=channel.tenant, name=values.pop("name", "Button"), **values)
    button.full_clean()
    button.save()
    return button


def invitation_create(channel: Channel, **values: Any) -> Invitation:
    invitation = Invitation(tenant=channel.tenant, name=values.pop("name", "Invitation"), **values)
    invitation.full_clean()
    invitation.save()
    return invitation


def variable_create(channel: Channel, **values: Any) -> CustomVariable:
    variable = CustomVariable(tenant=channel.tenant, **values)
    variable.full_clean()
    variable.save()
    return variable
