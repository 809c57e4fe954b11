from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError

from guide.models import TriggerCondition
from tests.factories.guide import button_create, invitation_create, trigger_create, variable_create


def test_conditions_compile_in_order_to_one_rule_with_typed_values(acme) -> None:
    cart = variable_create(
        acme.live, name="cartTotal", label="Cart", value_type="number", source="data_layer", key="cart.total"
    )
    trigger = trigger_create(
        acme.live,
        conditions=[
            {"fact": "page.path", "operator": "startsWith", "value": "/pricing", "ignore_case": True},
            {"fact": "visit.pageViews", "operator": "gte", "value": "3"},
            {"fact": "time.dayOfWeek", "operator": "in", "value": "1, 2,3"},
            {"fact": "time.minuteOfDay", "operator": "timeBetween", "value": "09:00,17:30"},
            {"fact": "variable", "variable": cart, "operator": "between", "value": "10, 99.5"},
            {"fact": "identity.signed", "operator": "isTrue"},
        ],
    )
    assert trigger.rule() == {
        "all": [
            {"fact": "page.path", "op": "startsWith", "value": "/pricing", "ignoreCase": True},
            {"fact": "visit.pageViews", "op": "gte", "value": 3},
            {"fact": "time.dayOfWeek", "op": "in", "value": [1, 2, 3]},
            {"fact": "time.minuteOfDay", "op": "timeBetween", "value": ["09:00", "17:30"]},
            {"fact": "var.cartTotal", "op": "between", "value": [10, 99.5]},
            {"fact": "identity.signed", "op": "isTrue"},
        ]
    }
    assert set(trigger.conditions.values_list("tenant_id", flat=True)) == {acme.tenant.pk}


@pytest.mark.parametrize(
    ("values", "field"),
    [
        ({"fact": "page.path", "operator": "gt", "value": "3"}, "operator"),
        ({"fact": "visit.pageViews", "operator": "gte", "value": "three"}, "value"),
        ({"fact": "page.url", "operator": "matches", "value": "(unclosed"}, "value"),
        ({"fact": "page.url", "operator": "matches", "value": "(?P<name>x)"}, "value"),
        ({"fact": "time.minuteOfDay", "operator": "timeBetween", "value": "9:00,17:00"}, "value"),
        ({"fact": "visit.duration", "operator": "between", "value": "10,5"}, "value"),
        ({"fact": "variable", "operator": "equals", "value": "x"}, "variable"),
    ],
)
def test_invalid_conditions_are_refused_with_the_field_named(acme, values, field) -> None:
    trigger = trigger_create(acme.live)
    condition = TriggerCondition(trigger=trigger, tenant=acme.tenant, **values)
    with pytest.raises(ValidationError) as error:
        condition.full_clean(exclude=["tenant"])
    assert field in error.value.message_dict


def test_a_condition_cannot_use_another_tenants_variable(acme, globex) -> None:
    foreign = variable_create(globex.messaging, name="plan", label="Plan")
    trigger = trigger_create(acme.live)
    condition = TriggerCondition(
        trigger=trigger, tenant=acme.tenant, fact="variable", variable=foreign, operator="isSet"
    )
    with pytest.raises(ValidationError) as error:
        condition.full_clean(exclude=["tenant"])
    assert error.value.message_dict == {"variable": ["It belongs to another tenant."]}


def test_an_action_cannot_show_another_tenants_item(acme, globex) -> None:
    foreign = button_create(globex.messaging)
    with pytest.raises(ValidationError) as error:
        trigger_create(acme.live, actions=[{"kind": "showButton", "button": foreign}])
    assert error.value.message_dict == {"button": ["It belongs to another tenant."]}


def test_a_trigger_cannot_target_another_tenants_channel(acme, globex) -> None:
    with pytest.raises(ValidationError) as error:
        from guide.models import Trigger

        Trigger(tenant=acme.tenant, channel=globex.messaging, name="x").full_clean()
    assert error.value.message_dict == {"channel": ["The channel belongs to another tenant."]}


def test_item_variants_and_sources_need_their_fields(acme) -> None:
    with pytest.raises(ValidationError) as error:
        button_create(acme.live, placement="fixed")
    assert list(error.value.message_dict) == ["container"]
    with pytest.raises(ValidationError):
        invitation_create(acme.live, offline_enabled=True, offline_title="")
    with pytest.raises(ValidationError) as error:
        variable_create(acme.live, name="sku", label="SKU", source="css_attribute", key="#product", attribute="")
    assert list(error.value.message_dict) == ["attribute"]
    with pytest.raises(ValidationError) as error:
        trigger_create(acme.live, actions=[{"kind": "welcomeMessage", "message": " "}])
    assert list(error.value.message_dict) == ["message"]
