import collections
import gc

import pytest

from tests.gateway.conftest import open_socket
from tests.gateway.test_messaging import agent_reply, send_data

pytestmark = pytest.mark.django_db(transaction=True)


async def test_probe_recover(acme):
    connected, visitor = await open_socket(acme.messaging, customer=acme.visitor)
    for number in range(1, 4):
        await visitor.request("SendMessage", send_data("thread-A", f"m{number}", f"msg-{number}"))
    await agent_reply("thread-A", "reply", acme.alice)
    await visitor.pushes(0.1)
    await visitor.request("RecoverThread", {"thread": {"idOnExternalPlatform": "thread-A"}})
    gc.collect()
    gc.set_debug(gc.DEBUG_SAVEALL)
    answer = await visitor.request("RecoverThread", {"thread": {"idOnExternalPlatform": "thread-A"}})
    assert answer.get("type") != "error", answer
    gc.collect()
    gc.set_debug(0)
    counts = collections.Counter(f"{type(o).__module__}.{type(o).__qualname__}" for o in gc.garbage)
    print("\nGARBAGE", len(gc.garbage), sorted(counts.items(), key=lambda kv: -kv[1])[:40])
    for f in [o for o in gc.garbage if type(o).__name__ == "frame"][:30]:
        print("FRAME", f.f_code.co_name, f.f_code.co_filename.split("site-packages/")[-1], f.f_lineno)
    gc.garbage.clear()
    await visitor.close()
