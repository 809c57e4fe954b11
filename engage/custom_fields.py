"""Validation of custom field values against their tenant's definitions."""

from __future__ import annotations

import datetime
from collections.abc import Iterable, Mapping

from django.core.exceptions import ValidationError
from django.core.validators import validate_email

from engage.errors import InvalidInput
from engage.models import CustomFieldDefinition, Tenant
from engage.selectors import custom_field_definitions

MAX_VALUE_LENGTH = 1000


def _check_value(definition: CustomFieldDefinition, value: str) -> None:
    kind = CustomFieldDefinition.FieldType
    if definition.field_type == kind.EMAIL:
        try:
            validate_email(value)
        except ValidationError:
            raise InvalidInput(f"Custom field {definition.ident!r} needs an e-mail address.") from None
    elif definition.field_type == kind.LIST:
        allowed = {str(choice.get("value")) for choice in definition.choices}
        if value not in allowed:
            raise InvalidInput(f"Custom field {definition.ident!r} must be one of {sorted(allowed)}.")
    elif definition.field_type == kind.DATE:
        try:
            datetime.date.fromisoformat(value)
        except ValueError:
            raise InvalidInput(f"Custom field {definition.ident!r} needs a date (YYYY-MM-DD).") from None


def custom_fields_validate(
    *, tenant: Tenant, scope: str, values: Mapping[str, object] | Iterable[Mapping[str, object]]
) -> dict[str, str]:
    """Checks each value against the definition of its ident; unknown idents are refused.

    Accepts a mapping or the wire's ``[{"ident", "value"}]`` list. An empty or null
    value clears the field. Returns the normalised ``{ident: value}`` mapping.
    """
    if isinstance(values, Mapping):
        pairs = list(values.items())
    else:
        pairs = []
        for item in values:
            if not isinstance(item, Mapping) or not isinstance(item.get("ident"), str):
                raise InvalidInput('Custom fields are [{"ident": "…", "value": "…"}].')
            pairs.append((item["ident"], item.get("value")))
    definitions = {d.ident: d for d in custom_field_definitions(tenant=tenant, scope=scope)}
    cleaned: dict[str, str] = {}
    for ident, raw in pairs:
        definition = definitions.get(str(ident))
        if definition is None:
            raise InvalidInput(f"Unknown {scope} custom field {ident!r}.")
        value = "" if raw is None else str(raw).strip()
        if len(value) > MAX_VALUE_LENGTH:
            raise InvalidInput(f"Custom field {ident!r} is longer than {MAX_VALUE_LENGTH} characters.")
        if value:
            _check_value(definition, value)
        cleaned[definition.ident] = value
    return cleaned
