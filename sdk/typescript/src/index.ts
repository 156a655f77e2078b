// Settle's API v1 for TypeScript. `schema.d.ts` is generated from Settle's /openapi.json (npm run generate, or
// scripts/sdk at the repository's root); everything else here is small and written by hand on top of it.

import type { components } from "./schema.js";

export type { components, paths } from "./schema.js";
export { createSettle, SettleError, type Settle, type SettleOptions } from "./client.js";
export { verifyWebhook, WebhookVerificationError, type SettleEvent } from "./webhooks.js";
export { payGasless, type GaslessOptions, type GaslessResult } from "./checkout.js";

/** A payment as Settle answers it. */
export type Payment = components["schemas"]["PaymentView"];
/** A created payment: the payment, and for a CHAIN payment its checkout's contracts and client secret. */
export type CreatedPayment = components["schemas"]["CreatedPayment"];
/** Every error's body: `{error: {type, code, message, param?, requestId}}`. */
export type ErrorBody = components["schemas"]["ErrorBody"];
