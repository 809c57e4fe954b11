"""The proactive configuration of a channel, as the chat manager reads it.

Built from the admin rows (triggers in order with their compiled rules and
actions, the chat items they show, the custom variables) and served inlined in
the loader and at ``/guide/1.0/brand/{b}/channel/{c}/proactive``. Only public
values go here. See docs/proactive.md.
"""

from __future__ import annotations

import hashlib
import json
import logging
from typing import Any

from django.core.exceptions import ValidationError
from django.urls import reverse

from engage.models import Channel
from guide.models import ChatButton, CustomVariable, Invitation, Trigger, TriggerAction
from guide.rules import RuleError, rule_validate

logger = logging.getLogger(__name__)
DEFAULT_VISIT_IDLE_MINUTES = 30


def _button(button: ChatButton) -> dict[str, Any]:
    return {
        "placement": button.placement,
        "position": button.position,
        "container": button.container,
        "background": button.background_color,
        "color": button.text_color,
        "online": {"text": button.online_text},
        "offline": {"text": button.offline_text} if button.offline_enabled else None,
    }


def _invitation(invitation: Invitation) -> dict[str, Any]:
    offline = None
    if invitation.offline_enabled:
        offline = {
            "title": invitation.offline_title,
            "text": invitation.offline_text,
            "accept": invitation.offline_accept,
        }
    return {
        "position": invitation.position,
        "background": invitation.background_color,
        "color": invitation.text_color,
        "dismiss": invitation.dismiss_label,
        "online": {
            "title": invitation.online_title,
            "text": invitation.online_text,
            "accept": invitation.online_accept,
        },
        "offline": offline,
    }


def _action(action: TriggerAction) -> dict[str, Any]:
    if action.kind == TriggerAction.Kind.SHOW_BUTTON:
        return {"kind": action.kind, "button": str(action.button_id)}
    if action.kind == TriggerAction.Kind.SHOW_INVITATION:
        return {"kind": action.kind, "invitation": str(action.invitation_id)}
    if action.kind == TriggerAction.Kind.WELCOME_MESSAGE:
        return {"kind": action.kind, "message": action.message}
    return {"kind": action.kind}


def _variable(variable: CustomVariable) -> dict[str, Any]:
    return {
        "name": variable.name,
        "label": variable.label,
        "type": variable.value_type,
        "source": variable.source,
        "key": variable.key or variable.name,
        "attribute": variable.attribute,
        "showToAgents": variable.show_to_agents,
    }


def _trigger(trigger: Trigger, variable_types: dict[str, str]) -> dict[str, Any] | None:
    try:
        rule = {"all": [condition.as_leaf() for condition in trigger.conditions.all()]}
        rule_validate(rule, variables=variable_types)
    except (RuleError, ValueError, ValidationError) as error:
        # A trigger that no longer validates (e.g. its variable changed type) never runs.
        logger.warning("trigger %s of channel %s skipped: %s", trigger.pk, trigger.channel_id, error)
        return None
    return {
        "id": str(trigger.pk),
        "name": trigger.name,
        "rule": rule,
        "onlyIfAgentsAvailable": trigger.only_if_agents_available,
        "oncePerVisit": trigger.once_per_visit,
        "stopHere": trigger.stop_here,
        "actions": [_action(action) for action in trigger.actions.all()],
    }


def proactive_config(channel: Channel) -> dict[str, Any]:
    """The channel's triggers, chat items and custom variables; ``version`` changes with any of them."""
    variables = list(CustomVariable.objects.filter(tenant_id=channel.tenant_id).order_by("name"))
    variable_types = {variable.name: variable.value_type for variable in variables}
    triggers = (
        Trigger.objects.filter(channel=channel, tenant_id=channel.tenant_id, is_active=True)
        .prefetch_related("conditions__variable", "actions")
        .order_by("order", "pk")
    )
    compiled = [entry for entry in (_trigger(trigger, variable_types) for trigger in triggers) if entry]
    button_ids = {int(a["button"]) for t in compiled for a in t["actions"] if "button" in a}
    invitation_ids = {int(a["invitation"]) for t in compiled for a in t["actions"] if "invitation" in a}
    buttons = ChatButton.objects.filter(tenant_id=channel.tenant_id, pk__in=button_ids)
    invitations = Invitation.objects.filter(tenant_id=channel.tenant_id, pk__in=invitation_ids)
    brand, public = channel.brand.brand_id, channel.channel_id
    config: dict[str, Any] = {
        "timeZone": channel.tenant.time_zone,
        "visitIdleMinutes": channel.idle_timeout_minutes,
        "triggers": compiled,
        "buttons": {str(button.pk): _button(button) for button in buttons},
        "invitations": {str(invitation.pk): _invitation(invitation) for invitation in invitations},
        "variables": [_variable(variable) for variable in variables],
        "availabilityUrl": reverse("guide-availability", kwargs={"brand_id": brand, "channel_id": public}),
        "analyticsUrl": f"/analytics/1.0/brand/{brand}/channel/{public}",
    }
    digest = hashlib.sha256(json.dumps(config, sort_keys=True).encode()).hexdigest()[:16]
    return {"version": digest, **config}


def _shows_a_button_unconditionally(trigger: Trigger) -> bool:
    """True when the trigger holds on every page at once and shows a button.

    Then a button is to be shown anyway, and the loader draws its own at once,
    which the chat manager replaces when it has evaluated its rules: the visitor
    sees a button as early as on a page with a static one.
    """
    return (
        not trigger.only_if_agents_available
        and not list(trigger.conditions.all())
        and any(action.kind == TriggerAction.Kind.SHOW_BUTTON for action in trigger.actions.all())
    )


def loader_contribution(channel: Channel) -> dict[str, Any]:
    """What the loader needs to know before the chat manager has fetched its configuration.

    The configuration itself stays out of the loader (its budget is 1.5 KB): the chat
    manager fetches it from the cacheable endpoint. With active triggers the loader
    waits for the chat manager instead of showing its default button first
    (``deferButton``), unless the first trigger shows a button on every page
    anyway; a visit idle time other than 30 minutes is passed on.
    """
    contribution: dict[str, Any] = {}
    first = (
        Trigger.objects.filter(channel=channel, tenant_id=channel.tenant_id, is_active=True)
        .prefetch_related("conditions", "actions")
        .order_by("order", "pk")
        .first()
    )
    if first is not None and not _shows_a_button_unconditionally(first):
        contribution["deferButton"] = True
    if channel.idle_timeout_minutes != DEFAULT_VISIT_IDLE_MINUTES:
        contribution["visitIdleMinutes"] = channel.idle_timeout_minutes
    return contribution
