"""The benchmark's webhook hook: ``through_channel`` delivers every notification once, signed,
and ``signed_request`` gives a baseline sender the same body and headers the channel sends.
No figure is asserted."""

from standardwebhooks import Webhook

from hitl_bench.webhook_delivery import SECRET, notifications, signed_request, through_channel
from tests.webhooks import recording_server


async def test_through_channel_sends_each_notification_once_signed() -> None:
    sending = notifications(40)
    async with recording_server() as server:
        await through_channel(server.url + "/bench", sending, concurrency=8)
    ids = [r.headers["webhook-id"] for r in server.received]
    assert sorted(ids) == sorted(f"notification:{n.interaction_id}:requested:1" for n in sending)
    assert len({r.connection for r in server.received}) <= 8  # connections kept alive
    for request in server.received:
        Webhook(SECRET).verify(request.body, request.headers)


async def test_a_baseline_signs_the_same_payload_the_channel_sends() -> None:
    [note] = notifications(1)
    async with recording_server() as server:
        await through_channel(server.url, [note])
    [received] = server.received
    body, headers = signed_request(note, float(received.headers["webhook-timestamp"]))
    assert body == received.body
    assert headers.items() <= received.headers.items()
