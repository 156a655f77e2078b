// Verifying Settle's webhooks: a thin wrapper over the Standard Webhooks library (Settle signs every delivery
// with the endpoint's `whsec_...` secret, as the Standard Webhooks specification says).

import { Webhook, WebhookVerificationError } from "standardwebhooks";

export { WebhookVerificationError };

/** An event as Settle sends it: its id (`evt_...`), its type (`payment.completed`, ...) and the object. */
export interface SettleEvent<T = Record<string, unknown>> {
  id: string;
  type: string;
  data: T;
  [field: string]: unknown;
}

/**
 * Checks a delivery's `webhook-id`, `webhook-timestamp` and `webhook-signature` headers against the raw body (as
 * received, before any JSON parsing) and returns the event. Throws when the signature is not the endpoint's, or
 * the timestamp is more than five minutes away.
 */
export function verifyWebhook<T = Record<string, unknown>>(
  secret: string,
  rawBody: string | Buffer,
  headers: Record<string, string | string[] | undefined> | Headers,
): SettleEvent<T> {
  // Header names in any case (frameworks differ); a missing one fails as a bad signature does.
  const lower: Record<string, string | string[] | undefined> = {};
  if (!(headers instanceof Headers)) for (const [k, v] of Object.entries(headers)) lower[k.toLowerCase()] = v;
  const get = (name: string): string => {
    const v = headers instanceof Headers ? headers.get(name) : lower[name];
    if (v === undefined || v === null) throw new WebhookVerificationError(`the delivery has no ${name} header`);
    return Array.isArray(v) ? v[0] : v;
  };
  const wanted = {
    "webhook-id": get("webhook-id"),
    "webhook-timestamp": get("webhook-timestamp"),
    "webhook-signature": get("webhook-signature"),
  };
  return new Webhook(secret).verify(typeof rawBody === "string" ? rawBody : rawBody.toString("utf8"), wanted) as SettleEvent<T>;
}
