"""The Python SDK's smoke test against a running Settle (``settle serve --demo``): create, get, list with a cursor,
update metadata, cancel, and a webhook received and verified. Exits non-zero on the first failure.

    SETTLE_URL, SETTLE_KEY   the server and a merchant key
"""

import http.server
import os
import sys
import threading
import time

from settle_client import AuthenticatedClient
from settle_client.api.payments import cancel_payment, create_payment, get_payment, list_payments, update_payment
from settle_client.api.webhooks import create_endpoint, delete_endpoint
from settle_client.models import (
    CreatedPayment,
    CreateEndpointRequest,
    CreatePaymentRequest,
    ErrorBody,
    PaymentList,
    PaymentView,
    UpdatePaymentRequest,
    WebhookEndpointWithSecret,
)
from settle_webhooks import verify_webhook
from standardwebhooks.webhooks import WebhookVerificationError


def check(ok: object, what: str) -> None:
    if not ok:
        sys.exit(f"smoke: {what}")


settle = AuthenticatedClient(base_url=os.environ["SETTLE_URL"], token=os.environ["SETTLE_KEY"])
run = f"py-{time.time_ns()}"

# Create, read, list with a cursor.
created = []
for n in range(3):
    body = CreatePaymentRequest.from_dict(
        {"orderId": f"{run}-{n}", "amount": "1500", "currency": "KRW", "rail": "CARD", "metadata": {"run": run}}
    )
    r = create_payment.sync_detailed(client=settle, body=body, idempotency_key=f"{run}-{n}")
    check(r.status_code == 201 and isinstance(r.parsed, CreatedPayment), f"create: {r.status_code} {r.content!r}")
    check(r.parsed.status == "PENDING" and r.parsed.metadata["run"] == run, f"created: {r.content!r}")
    created.append(r.parsed.payment_id)
    again = create_payment.sync_detailed(client=settle, body=body, idempotency_key=f"{run}-{n}")
    check(again.headers.get("idempotent-replayed") == "true" and again.parsed.payment_id == r.parsed.payment_id, "a replay")
got = get_payment.sync(client=settle, payment_id=created[0])
check(isinstance(got, PaymentView) and got.payment_id == created[0] and got.amount == "1500", f"get: {got}")
check(got.livemode is False, "the demo key is a test key: its payments are not live")
seen = []
page = list_payments.sync(client=settle, limit=2, rail="CARD")
check(isinstance(page, PaymentList) and page.has_more and len(page.data) == 2, f"page 1: {page}")
while True:
    seen += [p.payment_id for p in page.data]
    if not page.has_more or set(created) <= set(seen):
        break
    page = list_payments.sync(client=settle, limit=2, rail="CARD", starting_after=page.data[-1].payment_id)
check(set(created) <= set(seen) and len(seen) == len(set(seen)), "the pages hold every payment once")

# Update metadata; cancel; a second cancel is a 409 in the envelope.
body = UpdatePaymentRequest.from_dict({"metadata": {"tier": "gold"}, "description": "smoke"})
updated = update_payment.sync(client=settle, payment_id=created[0], body=body)
check(isinstance(updated, PaymentView) and updated.metadata["tier"] == "gold" and updated.description == "smoke", f"update: {updated}")
check(cancel_payment.sync(client=settle, payment_id=created[0]).status == "CANCELLED", "cancel")
r = cancel_payment.sync_detailed(client=settle, payment_id=created[0])
check(r.status_code == 409 and isinstance(r.parsed, ErrorBody) and r.parsed.error.code == "invalid_state", f"second cancel: {r.content!r}")
print("smoke: create, get, list by cursor, update, cancel: ok", flush=True)

# A webhook: an endpoint on this machine gets payment.updated, signed; verified by the helper.
received = []


class Receiver(http.server.BaseHTTPRequestHandler):
    def do_POST(self):  # noqa: N802 (the standard library's name)
        body = self.rfile.read(int(self.headers["content-length"]))
        received.append((body, dict(self.headers)))
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args):
        pass


server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
threading.Thread(target=server.serve_forever, daemon=True).start()
url = f"http://127.0.0.1:{server.server_address[1]}/hook"
ep = create_endpoint.sync(client=settle, body=CreateEndpointRequest(url=url, events=["payment.updated"]))
check(isinstance(ep, WebhookEndpointWithSecret) and ep.secret.startswith("whsec_"), f"endpoint: {ep}")
update_payment.sync(client=settle, payment_id=created[1], body=UpdatePaymentRequest.from_dict({"metadata": {"hook": run}}))
# (An update made before the endpoint existed may reach it too: events fan out to endpoints as they are published.)
deadline = time.monotonic() + 30
mine = []
while not mine and time.monotonic() < deadline:
    time.sleep(0.1)
    mine = [(raw, h) for raw, h in list(received) if created[1].encode() in raw]
check(mine, "a delivery arrived")
raw, headers = mine[0]
event = verify_webhook(ep.secret, raw, headers)
check(event["type"] == "payment.updated" and event["data"]["metadata"].get("hook") == run, f"event: {event}")
try:
    verify_webhook(ep.secret, raw.replace(run.encode(), b"forged"), headers)
    check(False, "a changed body fails verification")
except WebhookVerificationError:
    pass
server.shutdown()
delete_endpoint.sync_detailed(client=settle, endpoint_id=ep.id)
print("smoke: webhook received and verified: ok", flush=True)

# Bad input: a 400 in the envelope naming the field.
bad = CreatePaymentRequest.from_dict({"orderId": f"{run}-bad", "amount": "-5", "currency": "KRW", "rail": "CARD"})
r = create_payment.sync_detailed(client=settle, body=bad)
check(r.status_code == 400 and isinstance(r.parsed, ErrorBody) and r.parsed.error.param == "amount", f"bad input: {r.content!r}")
print("smoke: ok", flush=True)
