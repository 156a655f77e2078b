import createClient, { type Client, type ClientOptions } from "openapi-fetch";

import type { components, paths } from "./schema.js";

export interface SettleOptions extends Omit<ClientOptions, "baseUrl"> {
  /** Where Settle answers, such as `http://127.0.0.1:3000`. */
  baseUrl: string;
  /** A merchant's API key (`sk_...`), or a payment's client secret (`pcs_...`) for its checkout routes. */
  apiKey: string;
}

/** A client of every /v1 route, typed from Settle's OpenAPI document. */
export type Settle = Client<paths>;

/** A client that sends `apiKey` as the bearer token on every request. */
export function createSettle({ baseUrl, apiKey, headers, ...rest }: SettleOptions): Settle {
  const all = new Headers(headers as HeadersInit | undefined);
  all.set("Authorization", `Bearer ${apiKey}`);
  return createClient<paths>({ baseUrl, headers: Object.fromEntries(all.entries()), ...rest });
}

/** An error Settle answered: its HTTP status and its envelope (`code`, `message`, `param`, `requestId`). */
export class SettleError extends Error {
  readonly status: number;
  readonly error: components["schemas"]["ErrorBody"]["error"];
  constructor(status: number, body: components["schemas"]["ErrorBody"] | unknown) {
    // Not Settle's envelope (a proxy's error page, say): kept whole in the message.
    const error = (body as components["schemas"]["ErrorBody"] | undefined)?.error ?? {
      type: "api_error",
      code: "unexpected_answer",
      message: typeof body === "string" ? body : JSON.stringify(body),
      requestId: "",
    };
    super(`${status} ${error.code}: ${error.message}`);
    this.status = status;
    this.error = error;
  }
}
