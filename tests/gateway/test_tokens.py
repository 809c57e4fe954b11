"""POST /oauth/token: the secured-session exchange in its four variants, and its refusals."""

from __future__ import annotations

import json

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from chat.gateway.identity import IdentityRefused, identity_verify
from chat.gateway.tokens import token_read
from chat.models import Customer
from engage.models import Channel
from tests.gateway.identity import company_jwt

pytestmark = pytest.mark.django_db


def token_url(cast, channel=None, visitor=""):  # type: ignore[no-untyped-def]
    channel = channel or cast.messaging
    return f"/oauth/token?brandId={cast.brand.brand_id}&channelId={channel.channel_id}&visitorId={visitor}"


def post(client, url, body, **headers):  # type: ignore[no-untyped-def]
    return client.post(url, data=json.dumps(body), content_type="application/json", **headers)


def use_mode(channel: Channel, mode: str) -> None:
    channel.auth_mode = mode
    channel.save()


def test_anonymous_exchange_binds_the_token_to_the_customer(client, acme):  # type: ignore[no-untyped-def]
    response = post(client, token_url(acme, visitor="v-1"), {"customerIdentity": {"idOnExternalPlatform": "cust-anon"}})
    assert response.status_code == 200
    body = response.json()
    customer = Customer.objects.get(brand=acme.brand, id_on_external_platform="cust-anon")
    assert body["expiresIn"] == 3600
    assert body["customerIdentity"] == {"idOnExternalPlatform": "cust-anon", "customFields": []}
    assert body["contact"] == {"customFields": []}
    assert "thirdParty" not in body
    claims = token_read(kind="transaction", token=body["accessToken"], channel_pk=acme.messaging.pk)
    assert (claims.customer_pk, claims.channel_pk) == (customer.pk, acme.messaging.pk)
    assert customer.is_verified is False
    assert token_read(kind="transaction", token=body["accessToken"], channel_pk=acme.live.pk) is None


def test_anonymous_exchange_cannot_claim_a_verified_customer(client, acme):  # type: ignore[no-untyped-def]
    Customer.objects.create(tenant=acme.tenant, brand=acme.brand, id_on_external_platform="user-42", is_verified=True)
    response = post(client, token_url(acme), {"customerIdentity": {"idOnExternalPlatform": "user-42"}})
    assert response.status_code == 403
    assert response.json()["errorCode"] == "identity_refused"
    assert response.json()["error"]["code"] == "identity_refused"


def test_anonymous_exchange_needs_an_id(client, acme):  # type: ignore[no-untyped-def]
    for identity in ({}, {"idOnExternalPlatform": ""}, {"idOnExternalPlatform": "x" * 201}, "nope"):
        response = post(client, token_url(acme), {"customerIdentity": identity})
        assert response.status_code == 400, identity
    assert not Customer.objects.exclude(pk=acme.visitor.pk).exists()


def test_secured_cookies_mint_an_id_and_recognise_it_later(client, acme):  # type: ignore[no-untyped-def]
    use_mode(acme.messaging, Channel.AuthMode.SECURED_COOKIES)
    first = post(client, token_url(acme), {})
    assert first.status_code == 200
    cookie = first.cookies["parley_customer_1001"]
    assert cookie["httponly"] is True
    assert cookie["samesite"] == "Lax"
    customer_id = first.json()["customerIdentity"]["idOnExternalPlatform"]
    assert customer_id.startswith("parley-")
    second = post(client, token_url(acme), {})
    assert second.json()["customerIdentity"]["idOnExternalPlatform"] == customer_id
    client.cookies.clear()
    third = post(client, token_url(acme), {})
    assert third.json()["customerIdentity"]["idOnExternalPlatform"] != customer_id


def test_forged_cookie_gets_a_new_identity(client, acme):  # type: ignore[no-untyped-def]
    use_mode(acme.messaging, Channel.AuthMode.SECURED_COOKIES)
    client.cookies["parley_customer_1001"] = str(acme.visitor.pk)
    body = post(client, token_url(acme), {}).json()
    assert body["customerIdentity"]["idOnExternalPlatform"] != acme.visitor.id_on_external_platform


def test_third_party_code_is_a_signed_customer_id(client, acme):  # type: ignore[no-untyped-def]
    use_mode(acme.messaging, Channel.AuthMode.THIRD_PARTY)
    code = company_jwt(acme.messaging, "user-7", given_name="Jane", family_name="Public")
    body = {"thirdParty": {"authorization_code": code, "grant_type": "authorization_code"}}
    response = post(client, token_url(acme), body, HTTP_ORIGIN="http://127.0.0.1:8000")
    assert response.status_code == 200
    assert response["Access-Control-Allow-Credentials"] == "true"
    answer = response.json()
    assert answer["customerIdentity"] == {
        "idOnExternalPlatform": "user-7",
        "firstName": "Jane",
        "lastName": "Public",
        "customFields": [],
    }
    assert set(answer["thirdParty"]) == {"access_token", "refresh_token", "expires_in", "token_type"}
    customer = Customer.objects.get(brand=acme.brand, id_on_external_platform="user-7")
    assert customer.is_verified is True
    refresh = {"thirdParty": {"grant_type": "refresh_token", "refresh_token": answer["thirdParty"]["refresh_token"]}}
    refreshed = post(client, token_url(acme), refresh).json()
    assert refreshed["customerIdentity"]["idOnExternalPlatform"] == "user-7"
    assert refreshed["thirdParty"]["access_token"]


@pytest.mark.parametrize(
    "code",
    ["not-a-jwt", "", None],
)
def test_third_party_refuses_unsigned_codes(client, acme, code):  # type: ignore[no-untyped-def]
    use_mode(acme.messaging, Channel.AuthMode.THIRD_PARTY)
    body = {"thirdParty": {"authorization_code": code, "grant_type": "authorization_code"}}
    response = post(client, token_url(acme), body)
    assert response.status_code == 403
    assert response.json()["errorCode"] == "identity_refused"


def test_third_party_refuses_expired_foreign_and_wrong_audience_codes(client, acme, globex):  # type: ignore[no-untyped-def]
    use_mode(acme.messaging, Channel.AuthMode.THIRD_PARTY)
    codes = [
        company_jwt(acme.messaging, "user-7", ttl=-120),
        company_jwt(globex.messaging, "user-7"),
        company_jwt(acme.messaging, "user-7", aud="1001/chat_live"),
    ]
    for code in codes:
        body = {"thirdParty": {"authorization_code": code, "grant_type": "authorization_code"}}
        assert post(client, token_url(acme), body).status_code == 403
    assert not Customer.objects.filter(id_on_external_platform="user-7").exists()


def test_a_refresh_token_of_another_channel_is_refused(client, acme):  # type: ignore[no-untyped-def]
    use_mode(acme.messaging, Channel.AuthMode.THIRD_PARTY)
    use_mode(acme.live, Channel.AuthMode.THIRD_PARTY)
    body = {"thirdParty": {"authorization_code": company_jwt(acme.live, "user-8"), "grant_type": "authorization_code"}}
    refresh_token = post(client, token_url(acme, acme.live), body).json()["thirdParty"]["refresh_token"]
    refresh = {"thirdParty": {"grant_type": "refresh_token", "refresh_token": refresh_token}}
    assert post(client, token_url(acme), refresh).status_code == 403


def test_modes_the_channel_does_not_use_are_refused(client, acme):  # type: ignore[no-untyped-def]
    anonymous = {"customerIdentity": {"idOnExternalPlatform": "cust-1"}}
    assert post(client, token_url(acme), {}).status_code == 403
    use_mode(acme.messaging, Channel.AuthMode.THIRD_PARTY)
    response = post(client, token_url(acme), anonymous)
    assert response.status_code == 403
    assert response.json()["errorCode"] == "auth_mode_not_allowed"


def test_token_endpoint_refuses_foreign_channel_pairs_and_bad_bodies(client, acme, globex):  # type: ignore[no-untyped-def]
    anonymous = {"customerIdentity": {"idOnExternalPlatform": "cust-1"}}
    wrong = f"/oauth/token?brandId={acme.brand.brand_id}&channelId=globex_msg&visitorId="
    assert post(client, wrong, anonymous).status_code == 404
    assert post(client, "/oauth/token", anonymous).status_code == 404
    assert client.post(token_url(acme), data="{", content_type="application/json").status_code == 400
    assert post(client, token_url(acme), {"something": "else"}).status_code == 400
    assert client.get(token_url(acme)).status_code == 405


def test_public_key_identities(acme):  # type: ignore[no-untyped-def]
    import time

    import jwt

    private = ec.generate_private_key(ec.SECP256R1())
    public_pem = private.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    acme.messaging.identity_public_key = public_pem.decode()
    signed = jwt.encode({"sub": "user-9", "exp": int(time.time()) + 60}, private, "ES256")
    assert identity_verify(channel=acme.messaging, token=signed).customer_id == "user-9"
    with pytest.raises(IdentityRefused):  # the shared secret no longer mints identities
        identity_verify(channel=acme.messaging, token=company_jwt(acme.messaging, "user-9"))
