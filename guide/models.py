"""Proactive engagement: triggers, their conditions and actions, chat buttons,
invitations and custom variables. See docs/proactive.md.

A trigger's conditions compile to one rule of the shared rule format
(``guide.rules``); ``guide.proactive.config`` turns a channel's rows into the
JSON the chat manager evaluates in the browser.
"""

from __future__ import annotations

import re
from typing import Any

from django.core.exceptions import ValidationError
from django.core.validators import RegexValidator
from django.db import models

from engage.models import Channel, TenantOwned
from guide.rules import FACTS, RuleError, rule_validate
from guide.rules.schema import OPERATORS

variable_name_validator = RegexValidator(
    r"^[A-Za-z_][A-Za-z0-9_]{0,63}$", "Use a letter or underscore, then letters, digits or underscores (≤ 64)."
)
color_validator = RegexValidator(r"^#[0-9a-fA-F]{6}$", "Use a colour like #2f5d8a.")


class CustomVariable(TenantOwned):
    """A value the chat manager reads on the host page; feeds conditions and the agent's context."""

    class ValueType(models.TextChoices):
        STRING = "string", "Text"
        NUMBER = "number", "Number"
        BOOLEAN = "boolean", "Yes / no"

    class Source(models.TextChoices):
        PAGE_API = "page_api", "Page API: parley('set', name, value)"
        CSS_TEXT = "css_text", "Text of the element matching a CSS selector"
        CSS_ATTRIBUTE = "css_attribute", "Attribute of the element matching a CSS selector"
        QUERY_PARAMETER = "query_parameter", "URL query parameter"
        COOKIE = "cookie", "Cookie"
        DATA_LAYER = "data_layer", "Data-layer key (window.dataLayer)"

    name = models.CharField(
        max_length=64, validators=[variable_name_validator], help_text="Used in conditions as var.<name>."
    )
    label = models.CharField(max_length=120, help_text="What agents see in the context panel.")
    value_type = models.CharField(max_length=8, choices=ValueType.choices, default=ValueType.STRING)
    source = models.CharField(max_length=16, choices=Source.choices, default=Source.PAGE_API)
    key = models.CharField(
        max_length=300,
        blank=True,
        help_text="CSS selector, query parameter, cookie or data-layer key (dots reach into objects). "
        "For the page API, the name given to parley('set', …); empty means the variable's name.",
    )
    attribute = models.CharField(max_length=64, blank=True, help_text="For a CSS attribute source: the attribute name.")
    show_to_agents = models.BooleanField(default=True)

    class Meta:
        ordering = ["name"]
        constraints = [models.UniqueConstraint(fields=["tenant", "name"], name="custom_variable_unique_name")]

    def __str__(self) -> str:
        return f"{self.label} (var.{self.name})"

    def clean(self) -> None:
        needs_key = self.source != self.Source.PAGE_API
        if needs_key and not self.key.strip():
            raise ValidationError({"key": "This source needs a selector or a key."})
        if self.source == self.Source.CSS_ATTRIBUTE and not re.fullmatch(
            r"[A-Za-z_:][-A-Za-z0-9_:.]{0,63}", self.attribute
        ):
            raise ValidationError({"attribute": "Name the attribute to read, e.g. data-price."})


class ChatItem(TenantOwned):
    """What buttons and invitations share: a name, colours and an optional offline variant."""

    name = models.CharField(max_length=120)
    background_color = models.CharField(max_length=7, default="#2f5d8a", validators=[color_validator])
    text_color = models.CharField(max_length=7, default="#ffffff", validators=[color_validator])
    offline_enabled = models.BooleanField(
        default=False,
        help_text="Live chat: show the offline variant when the trigger does not execute (no agent available).",
    )

    class Meta:
        abstract = True
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class ChatButton(ChatItem):
    class Placement(models.TextChoices):
        FLOATING = "floating", "Floating (fixed to a corner of the window)"
        FIXED = "fixed", "Fixed (inside a page element)"

    class Position(models.TextChoices):
        BOTTOM_RIGHT = "bottom-right", "Bottom right"
        BOTTOM_LEFT = "bottom-left", "Bottom left"
        RIGHT = "right", "Right edge, middle"
        LEFT = "left", "Left edge, middle"

    placement = models.CharField(max_length=8, choices=Placement.choices, default=Placement.FLOATING)
    position = models.CharField(max_length=12, choices=Position.choices, default=Position.BOTTOM_RIGHT)
    container = models.CharField(
        max_length=200, blank=True, help_text="Fixed buttons: CSS selector of the element the button goes into."
    )
    online_text = models.CharField(max_length=80, default="Chat with us")
    offline_text = models.CharField(max_length=80, blank=True, default="Leave us a message")

    class Meta(ChatItem.Meta):
        constraints = [models.UniqueConstraint(fields=["tenant", "name"], name="chat_button_unique_name")]

    def clean(self) -> None:
        if self.placement == self.Placement.FIXED and not self.container.strip():
            raise ValidationError({"container": "A fixed button needs the CSS selector of its element."})
        if self.offline_enabled and not self.offline_text.strip():
            raise ValidationError({"offline_text": "The offline variant needs a text."})


class Invitation(ChatItem):
    class Position(models.TextChoices):
        BOTTOM_RIGHT = "bottom-right", "Bottom right"
        BOTTOM_LEFT = "bottom-left", "Bottom left"
        CENTER = "center", "Centre of the window"

    position = models.CharField(max_length=12, choices=Position.choices, default=Position.BOTTOM_RIGHT)
    online_title = models.CharField(max_length=80, default="Need a hand?")
    online_text = models.CharField(max_length=300, default="Our team is online. Ask us anything.")
    online_accept = models.CharField(max_length=40, default="Chat now")
    offline_title = models.CharField(max_length=80, blank=True, default="We're away")
    offline_text = models.CharField(max_length=300, blank=True, default="Leave a message and we'll get back to you.")
    offline_accept = models.CharField(max_length=40, blank=True, default="Leave a message")
    dismiss_label = models.CharField(max_length=40, default="No thanks")

    class Meta(ChatItem.Meta):
        constraints = [models.UniqueConstraint(fields=["tenant", "name"], name="invitation_unique_name")]

    def clean(self) -> None:
        if self.offline_enabled and not (self.offline_title.strip() and self.offline_accept.strip()):
            raise ValidationError("The offline variant needs a title and a button label.")


class Trigger(TenantOwned):
    """An ordered rule of a channel: when its conditions hold (AND), its actions run."""

    channel = models.ForeignKey(Channel, on_delete=models.CASCADE, related_name="triggers")
    name = models.CharField(max_length=120)
    order = models.PositiveIntegerField(default=0, help_text="Lower runs first.")
    is_active = models.BooleanField(default=True)
    only_if_agents_available = models.BooleanField(
        default=False, help_text="Ask the server for the probability to execute (agents' presence and workload)."
    )
    once_per_visit = models.BooleanField(default=False, help_text="Execute at most once in a visit.")
    stop_here = models.BooleanField(
        default=False, help_text="When this trigger holds, later triggers are not evaluated."
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["channel", "order", "pk"]
        indexes = [models.Index(fields=["channel", "is_active", "order"], name="trigger_channel_order_idx")]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        if self.channel_id and self.tenant_id and self.channel.tenant_id != self.tenant_id:
            raise ValidationError({"channel": "The channel belongs to another tenant."})

    def rule(self) -> dict[str, Any]:
        """The conditions as one rule of the shared format: ``{"all": [leaf, …]}`` in order."""
        return {"all": [condition.as_leaf() for condition in self.conditions.all()]}


class TriggerCondition(TenantOwned):
    """One client-side condition of a trigger; the value is typed by the fact's type."""

    FACT_CHOICES = [(name, label) for name, (_, label) in FACTS.items()] + [("variable", "Custom variable")]
    OPERATOR_CHOICES = [
        ("equals", "equals"),
        ("notEquals", "does not equal"),
        ("contains", "contains"),
        ("notContains", "does not contain"),
        ("startsWith", "starts with"),
        ("endsWith", "ends with"),
        ("matches", "matches the regular expression"),
        ("notMatches", "does not match the regular expression"),
        ("eq", "="),
        ("ne", "≠"),
        ("gt", ">"),
        ("gte", "≥"),
        ("lt", "<"),
        ("lte", "≤"),
        ("between", "between (min, max)"),
        ("in", "is one of (comma-separated)"),
        ("notIn", "is none of (comma-separated)"),
        ("includes", "includes"),
        ("notIncludes", "does not include"),
        ("includesMatching", "includes one matching the regular expression"),
        ("timeBetween", "between the times (HH:MM, HH:MM)"),
        ("isTrue", "is yes"),
        ("isFalse", "is no"),
        ("isSet", "is set"),
        ("isNotSet", "is not set"),
    ]

    trigger = models.ForeignKey(Trigger, on_delete=models.CASCADE, related_name="conditions")
    order = models.PositiveSmallIntegerField(default=0)
    fact = models.CharField(max_length=32, choices=FACT_CHOICES)
    variable = models.ForeignKey(CustomVariable, on_delete=models.CASCADE, null=True, blank=True, related_name="+")
    operator = models.CharField(max_length=20, choices=OPERATOR_CHOICES)
    value = models.CharField(
        max_length=500,
        blank=True,
        help_text="Lists and ranges: comma-separated. Times: 09:00, 17:30. Days: 1 = Monday.",
    )
    ignore_case = models.BooleanField(default=False)

    class Meta:
        ordering = ["trigger", "order", "pk"]

    def __str__(self) -> str:
        return f"{self.fact_name} {self.operator} {self.value}".strip()

    def save(self, *args: Any, **kwargs: Any) -> None:
        self.tenant_id = self.trigger.tenant_id
        super().save(*args, **kwargs)

    @property
    def fact_name(self) -> str:
        if self.fact == "variable":
            return f"var.{self.variable.name}" if self.variable_id and self.variable else "var.?"
        return self.fact

    def _kind(self) -> str:
        if self.fact == "variable":
            return self.variable.value_type if self.variable else "string"
        return FACTS[self.fact][0]

    def typed_value(self) -> Any:
        """The value field parsed for the fact's type and the operator."""
        kind, op, raw = self._kind(), self.operator, self.value.strip()
        if op in {"isSet", "isNotSet", "isTrue", "isFalse"}:
            return None
        if op in {"in", "notIn", "between", "timeBetween"}:
            items = [item.strip() for item in raw.split(",") if item.strip()]
            if op == "timeBetween" or kind == "string":
                return items
            return [_number(item) for item in items]
        if kind in {"number", "minute"}:
            return _number(raw)
        return self.value

    def as_leaf(self) -> dict[str, Any]:
        leaf: dict[str, Any] = {"fact": self.fact_name, "op": self.operator}
        value = self.typed_value()
        if value is not None:
            leaf["value"] = value
        if self.ignore_case:
            leaf["ignoreCase"] = True
        return leaf

    def clean(self) -> None:
        if self.fact == "variable":
            if self.variable is None:
                raise ValidationError({"variable": "Choose the custom variable."})
            if self.trigger_id and self.variable.tenant_id != self.trigger.tenant_id:
                raise ValidationError({"variable": "It belongs to another tenant."})
        elif self.variable_id:
            raise ValidationError({"variable": "Only for the fact 'Custom variable'."})
        if self.operator not in OPERATORS[self._kind()]:
            raise ValidationError({"operator": f"Not an operator for {self.fact_name} ({self._kind()})."})
        try:
            leaf = self.as_leaf()
            variables = (
                {self.variable.name: self.variable.value_type} if self.fact == "variable" and self.variable else {}
            )
            rule_validate(leaf, variables=variables)
        except (RuleError, ValueError) as error:
            raise ValidationError({"value": getattr(error, "message", str(error))})


def _number(text: str) -> int | float:
    try:
        number = float(text)
    except ValueError:
        raise ValueError(f"{text!r} is not a number.")
    if number != number or number in {float("inf"), float("-inf")}:
        raise ValueError(f"{text!r} is not a number.")
    return int(number) if number.is_integer() else number


class TriggerAction(TenantOwned):
    class Kind(models.TextChoices):
        SHOW_BUTTON = "showButton", "Show a chat button"
        SHOW_INVITATION = "showInvitation", "Show an invitation"
        OPEN_CHAT = "openChat", "Open the chat"
        WELCOME_MESSAGE = "welcomeMessage", "Open the chat with a proactive welcome message"

    trigger = models.ForeignKey(Trigger, on_delete=models.CASCADE, related_name="actions")
    order = models.PositiveSmallIntegerField(default=0)
    kind = models.CharField(max_length=16, choices=Kind.choices)
    button = models.ForeignKey(ChatButton, on_delete=models.CASCADE, null=True, blank=True, related_name="+")
    invitation = models.ForeignKey(Invitation, on_delete=models.CASCADE, null=True, blank=True, related_name="+")
    message = models.TextField(max_length=1000, blank=True, help_text="The proactive welcome message.")

    class Meta:
        ordering = ["trigger", "order", "pk"]

    def __str__(self) -> str:
        return self.get_kind_display()

    def save(self, *args: Any, **kwargs: Any) -> None:
        self.tenant_id = self.trigger.tenant_id
        super().save(*args, **kwargs)

    def clean(self) -> None:
        needs: dict[str, tuple[str, ChatButton | Invitation | None]] = {
            self.Kind.SHOW_BUTTON.value: ("button", self.button),
            self.Kind.SHOW_INVITATION.value: ("invitation", self.invitation),
        }
        if self.kind in needs and needs[self.kind][1] is None:
            field = needs[self.kind][0]
            raise ValidationError({field: f"Choose the {field} to show."})
        if self.kind == self.Kind.WELCOME_MESSAGE and not self.message.strip():
            raise ValidationError({"message": "Write the welcome message."})
        tenant_id = self.trigger.tenant_id if self.trigger_id else None
        for field, item in (("button", self.button), ("invitation", self.invitation)):
            if item is not None and tenant_id is not None and item.tenant_id != tenant_id:
                raise ValidationError({field: "It belongs to another tenant."})
