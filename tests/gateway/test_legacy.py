"""The unsecured (legacy) flow: customerId in the URL, AuthorizeCustomer, ReconnectConsumer, RefreshToken."""

from __future__ import annotations

import pytest
from channels.db import database_sync_to_async

from chat.models import Customer
from engage.models import Channel
from tests.gateway.identity import company_jwt

pytestmark = pytest.mark.django_db(transaction=True)

db = database_sync_to_async


@pytest.fixture
def legacy(acme):  # type: ignore[no-untyped-def]
    Channel.objects.filter(pk=acme.messaging.pk).update(auth_mode=Channel.AuthMode.NONE)
    acme.messaging.refresh_from_db()
    return acme


async def test_requests_before_authorize_are_refused(legacy, visitor_socket):  # type: ignore[no-untyped-def]
    visitor = await visitor_socket(legacy.messaging, customerId="cust-legacy")
    answer = await visitor.request("FetchThreadList", {})
    assert answer["error"]["reason"] == "not_authorized"


async def test_authorize_anonymously_then_use_the_access_token(legacy, visitor_socket):  # type: ignore[no-untyped-def]
    visitor = await visitor_socket(legacy.messaging, customerId="cust-legacy")
    identity = {"idOnExternalPlatform": "cust-legacy", "firstName": "Jane", "lastName": "Q Public"}
    data = {"authorization": {"authorizationCode": None}, "disableChannelInfo": True, "sdkVersion": "2.2.0"}
    authorized = await visitor.request("AuthorizeCustomer", data, action="register", identity=identity)
    assert authorized["status"] == "success"
    assert authorized["authorizationStatus"] == "authorized"
    assert authorized["postback"]["eventType"] == "ConsumerAuthorized"
    postback = authorized["postback"]["data"]
    assert postback["consumerIdentity"]["idOnExternalPlatform"] == "cust-legacy"
    assert postback["consumerIdentity"]["firstName"] == "Jane"
    token = postback["accessToken"]["token"]
    assert postback["accessToken"]["expiresIn"] == 3600
    customer = await db(Customer.objects.get)(id_on_external_platform="cust-legacy")
    assert (customer.is_verified, customer.last_name) == (False, "Q Public")
    refreshed = await visitor.request("RefreshToken", {"accessToken": {"token": token}})
    assert refreshed["postback"]["eventType"] == "TokenRefreshed"
    assert refreshed["postback"]["data"]["accessToken"]["token"]
    await visitor.close()
    again = await visitor_socket(legacy.messaging, customerId="cust-legacy")
    reconnected = await again.request("ReconnectConsumer", {"accessToken": {"token": token}})
    assert reconnected["postback"] == {"eventType": "ConsumerReconnected", "data": {}}
    assert "error" not in await again.request("FetchThreadList", {})


async def test_reconnect_with_a_bad_token_is_an_error_frame(legacy, acme, visitor_socket):  # type: ignore[no-untyped-def]
    visitor = await visitor_socket(legacy.messaging, customerId="cust-legacy")
    answer = await visitor.request("ReconnectConsumer", {"accessToken": {"token": "forged"}})
    assert answer["error"]["errorCode"] == "ConsumerReconnectionFailed"
    refresh = await visitor.request("RefreshToken", {"accessToken": {"token": "forged"}})
    assert refresh["error"]["errorCode"] == "TokenRefreshingFailed"


async def test_signed_code_authorizes_a_company_managed_id(legacy, visitor_socket):  # type: ignore[no-untyped-def]
    visitor = await visitor_socket(legacy.messaging, customerId="whatever")
    code = await db(company_jwt)(legacy.messaging, "user-42", given_name="Known")
    authorized = await visitor.request(
        "AuthorizeCustomer", {"authorization": {"authorizationCode": code}}, action="register"
    )
    assert authorized["postback"]["data"]["consumerIdentity"]["idOnExternalPlatform"] == "user-42"
    customer = await db(Customer.objects.get)(id_on_external_platform="user-42")
    assert customer.is_verified is True
    # Now that user-42 is company-managed, the bare id no longer opens it.
    thief = await visitor_socket(legacy.messaging, customerId="user-42")
    refused = await thief.request(
        "AuthorizeCustomer", {"authorization": {"authorizationCode": None}}, action="register"
    )
    assert refused["error"]["errorCode"] == "ConsumerAuthorizationFailed"
    assert refused["error"]["reason"] == "identity_refused"
    forged = await thief.request(
        "AuthorizeCustomer", {"authorization": {"authorizationCode": "a.b.c"}}, action="register"
    )
    assert forged["error"]["reason"] == "identity_refused"
    assert "error" in await thief.request("FetchThreadList", {})
