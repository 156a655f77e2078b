// The payer's side of a gasless CHAIN payment: typed data from Settle -> signatures by the payer's wallet (a
// permit for the token, then the forwarder's request) -> Settle relays it and pays the gas.

import type { Account, Hex, TypedDataDomain, WalletClient } from "viem";

import { createSettle, SettleError } from "./client.js";
import type { components } from "./schema.js";

export interface GaslessOptions {
  /** Where Settle answers. */
  baseUrl: string;
  /** The payment's client secret (`pcs_...`, from its creation): it opens this payment's checkout and nothing else. */
  clientSecret: string;
  paymentId: string;
  /** The payer's wallet: its account signs (it needs no ETH). */
  wallet: WalletClient;
  /** The signing account, if not the wallet's own. */
  account?: Account;
  /** true (default): `POST /relay`, which waits for the payment to complete (200) or for Settle's wait to end
   * (202, the relay goes on). false: `POST /gasless`, which answers 202 at once. */
  wait?: boolean;
  /** With a key, an answer lost on the way (a network error) is asked again with the very same signed body, up to
   * three times: Settle replays the first relay's answer and relays nothing twice. */
  idempotencyKey?: string;
  fetch?: typeof globalThis.fetch;
}

export interface GaslessResult {
  /** 200: COMPLETED; 202: relayed, not yet completed. */
  status: number;
  relayRequestId: string;
  /** The payment as it stands (from `/relay`). */
  payment?: components["schemas"]["PaymentView"];
}

interface TypedData {
  domain: Record<string, unknown>;
  types: Record<string, { name: string; type: string }[]>;
  primaryType: string;
  message: Record<string, unknown>;
}

/** Settle sends integers as decimal strings; the signer wants them as bigints. */
function signable(td: TypedData) {
  const { EIP712Domain: _, ...types } = td.types;
  const message: Record<string, unknown> = { ...td.message };
  for (const f of types[td.primaryType] ?? []) {
    if (/^u?int\d*$/.test(f.type) && message[f.name] !== undefined) message[f.name] = BigInt(message[f.name] as string | number);
  }
  const domain = { ...td.domain } as TypedDataDomain;
  if (domain.chainId !== undefined) domain.chainId = Number(domain.chainId);
  return { domain, types, primaryType: td.primaryType, message };
}

/** Signs and submits a gasless payment for `paymentId` with the payer's wallet. */
export async function payGasless(o: GaslessOptions): Promise<GaslessResult> {
  const account = o.account ?? o.wallet.account;
  if (!account) throw new Error("the wallet has no account to sign with");
  const settle = createSettle({ baseUrl: o.baseUrl, apiKey: o.clientSecret, fetch: o.fetch });
  const path = { paymentId: o.paymentId };
  const typedData = async (query: Record<string, string>) => {
    const { data, error, response } = await settle.GET("/v1/payments/{paymentId}/typed-data", { params: { path, query: query as never } });
    if (error) throw new SettleError(response.status, error as components["schemas"]["ErrorBody"]);
    return data as unknown as { permit?: TypedData | null; forwardRequest: TypedData; request: Record<string, unknown> };
  };
  const sign = async (td: TypedData): Promise<Hex> => o.wallet.signTypedData({ account, ...signable(td) } as never);
  let td = await typedData({ payer: account.address });
  if (td.permit) {
    // The token's permit first: it lets the gateway take the amount without an approval transaction.
    const permitSignature = await sign(td.permit);
    const permitDeadline = String(td.permit.message.deadline);
    td = await typedData({ payer: account.address, permitSignature, permitDeadline });
  }
  const signature = await sign(td.forwardRequest);
  const body = { request: td.request, signature } as never;
  const headers: Record<string, string> = o.idempotencyKey ? { "Idempotency-Key": o.idempotencyKey } : {};
  const post = () =>
    o.wait === false
      ? settle.POST("/v1/payments/{paymentId}/gasless", { params: { path }, body, headers })
      : settle.POST("/v1/payments/{paymentId}/relay", { params: { path }, body, headers });
  let sent: Awaited<ReturnType<typeof post>> | undefined;
  for (let attempt = 1; sent === undefined; attempt++) {
    try {
      sent = await post();
    } catch (e) {
      if (!o.idempotencyKey || attempt >= 3) throw e;
      await new Promise((r) => setTimeout(r, 250 * attempt));
    }
  }
  if (sent.error) throw new SettleError(sent.response.status, sent.error as components["schemas"]["ErrorBody"]);
  const answer = sent.data as { relayRequestId: string; payment?: components["schemas"]["PaymentView"] };
  return { status: sent.response.status, relayRequestId: answer.relayRequestId, payment: answer.payment };
}
