"""Verifying Settle's webhooks: a thin wrapper over the Standard Webhooks library.

Settle signs every delivery with the endpoint's ``whsec_...`` secret as the Standard Webhooks specification says
(``webhook-id``, ``webhook-timestamp``, ``webhook-signature``).
"""

from collections.abc import Mapping
from typing import Any

import binascii

from standardwebhooks.webhooks import Webhook, WebhookVerificationError

__all__ = ["WebhookVerificationError", "verify_webhook"]


def verify_webhook(secret: str, raw_body: bytes | str, headers: Mapping[str, str]) -> dict[str, Any]:
    """Checks a delivery's signature headers against its raw body (as received, before any JSON parsing) and
    returns the event (``{"id": "evt_...", "type": "payment.completed", "data": {...}}``).

    Raises ``WebhookVerificationError`` when the signature is not the endpoint's, a header is missing or malformed,
    or the timestamp is more than five minutes away (answer those 400).
    """
    wanted = {k.lower(): v for k, v in headers.items() if k.lower() in ("webhook-id", "webhook-timestamp", "webhook-signature")}
    body = raw_body.decode() if isinstance(raw_body, bytes) else raw_body
    try:
        return Webhook(secret).verify(body, wanted)
    except WebhookVerificationError:
        raise
    except (ValueError, KeyError, binascii.Error) as e:
        raise WebhookVerificationError(f"a malformed delivery: {e}") from e
