"""Search: the database backend, and the Elasticsearch path against an HTTP server
that answers as Elasticsearch does (there is no cluster on the test machine)."""

from __future__ import annotations

import json

import pytest
from elasticsearch.dsl.connections import connections

from chat import search, services
from chat.models import Message

ES_HEADERS = {
    "X-Elastic-Product": "Elasticsearch",
    "Content-Type": "application/vnd.elasticsearch+json;compatible-with=9",
}


@pytest.fixture
def threads(acme, globex):
    made = {}
    for cast, name in ((acme, "Refund for order 42"), (globex, "Refund at Globex")):
        thread, _ = services.thread_get_or_create(
            channel=cast.messaging, customer=cast.visitor, public_id="s", name=name
        )
        made[cast.tenant.slug] = thread
    return made


def test_database_search_finds_own_threads_only(acme, threads):
    assert search.thread_ids_matching(tenant=acme.tenant, text="refund") == [threads["acme"].pk]
    assert search.thread_ids_matching(tenant=acme.tenant, text="Vera") == [threads["acme"].pk]
    assert search.thread_ids_matching(tenant=acme.tenant, text="   ") == []


def test_elasticsearch_query_is_always_filtered_by_tenant(acme):
    query = search.message_search_query(tenant_id=acme.tenant.pk, text="lost parcel").to_dict()
    assert query == {
        "query": {
            "bool": {
                "filter": [{"term": {"tenant_id": acme.tenant.pk}}],
                "must": [{"match": {"text": {"query": "lost parcel", "operator": "and"}}}],
            }
        },
        "_source": ["thread_id"],
        "size": 500,
    }


@pytest.fixture
def elasticsearch(httpserver, settings):
    settings.SEARCH_BACKEND = "elasticsearch"
    connections.configure(default={"hosts": httpserver.url_for("/")})
    yield httpserver
    connections.configure(default={"hosts": settings.ELASTICSEARCH_DSL["default"]["hosts"]})


@pytest.mark.django_db(transaction=True)
def test_new_messages_are_indexed_after_commit_with_their_tenant(acme, elasticsearch):
    bulk_bodies = []

    def bulk(request):
        from werkzeug import Response

        bulk_bodies.append(request.get_data(as_text=True))
        return Response(json.dumps({"took": 1, "errors": False, "items": []}), headers=ES_HEADERS)

    elasticsearch.expect_request("/_bulk").respond_with_handler(bulk)
    thread, _ = services.thread_get_or_create(channel=acme.messaging, customer=acme.visitor, public_id="i")
    message = services.message_create(thread=thread, author_type="customer", content={"text": "lost parcel"}).message
    services.message_create(
        thread=thread, author_type="agent", agent=acme.alice, content={"text": "n"}, is_internal=True
    )
    assert len(bulk_bodies) == 1
    action, source = [json.loads(line) for line in bulk_bodies[0].strip().splitlines()]
    assert action == {"index": {"_index": "parley-messages", "_id": message.pk}}
    assert source["tenant_id"] == acme.tenant.pk
    assert (source["thread_id"], source["sequence"], source["text"], source["is_internal"]) == (
        thread.pk,
        1,
        "lost parcel",
        False,
    )
    assert Message.objects.count() == 2


def test_elasticsearch_hits_of_another_tenant_are_dropped(acme, globex, threads, elasticsearch):
    hits = [
        {"_index": "parley-messages", "_id": "1", "_score": 1.0, "_source": {"thread_id": t.pk}}
        for t in threads.values()
    ]
    body = {"took": 1, "timed_out": False, "hits": {"total": {"value": 2, "relation": "eq"}, "hits": hits}}
    elasticsearch.expect_request("/parley-messages/_search", method="POST").respond_with_json(body, headers=ES_HEADERS)
    assert search.thread_ids_matching(tenant=acme.tenant, text="zebra") == [threads["acme"].pk]


def test_agent_api_finds_threads_by_message_text_with_elasticsearch(client, acme, globex, threads, elasticsearch):
    hits = [
        {"_index": "parley-messages", "_id": str(t.pk), "_score": 1.0, "_source": {"thread_id": t.pk}}
        for t in threads.values()
    ]
    body = {"took": 1, "timed_out": False, "hits": {"total": {"value": 2, "relation": "eq"}, "hits": hits}}
    elasticsearch.expect_request("/parley-messages/_search", method="POST").respond_with_json(body, headers=ES_HEADERS)
    client.force_login(acme.admin.user)
    response = client.get("/api/v1/threads/", {"q": "zebra"})
    assert response.status_code == 200
    assert [row["id"] for row in response.json()["results"]] == [threads["acme"].pk]


def test_an_unavailable_cluster_leaves_database_search_working(acme, threads, elasticsearch):
    elasticsearch.expect_request("/parley-messages/_search").respond_with_data("down", status=503)
    assert search.thread_ids_matching(tenant=acme.tenant, text="refund") == [threads["acme"].pk]
    assert search.thread_ids_matching(tenant=acme.tenant, text="zebra") == []
