// Verifying Settle's webhooks: a thin wrapper over the Standard Webhooks library (Settle signs every delivery
// with the endpoint's `whsec_...` secret, as the Standard Webhooks specification says).

import { Webhook } from "standardwebhooks";

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
  rawBody: string,
  headers: Record<string, string | string[] | undefined> | Headers,
): SettleEvent<T> {
  const get = (name: string): string => {
    const v = headers instanceof Headers ? headers.get(name) : headers[name] ?? headers[name.toLowerCase()];
    if (v === undefined || v === null) throw new Error(`the delivery has no ${name} header`);
    return Array.isArray(v) ? v[0] : v;
  };
  const wanted = {
    "webhook-id": get("webhook-id"),
    "webhook-timestamp": get("webhook-timestamp"),
    "webhook-signature": get("webhook-signature"),
  };
  return new Webhook(secret).verify(rawBody, wanted) as SettleEvent<T>;
}
