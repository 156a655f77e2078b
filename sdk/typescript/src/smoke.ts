// The TypeScript SDK's smoke test against a running Settle (`settle serve --demo`): create, get, list with a
// cursor, update metadata, cancel, a webhook received and verified, and (with SMOKE_RPC set: a dev chain with
// Settle's contracts) a gasless payment through the checkout helper. Exits non-zero on the first failure.
//
//   SETTLE_URL, SETTLE_KEY                 the server and a merchant key
//   SMOKE_RPC, SMOKE_TOKEN, SMOKE_RECIPIENT, SMOKE_CHAIN_ID, SMOKE_MINTER_KEY
//                                          the chain part (the token must let anyone mint)

import { createServer } from "node:http";
import type { AddressInfo } from "node:net";

import { createPublicClient, createWalletClient, defineChain, http, parseAbi, type Hex } from "viem";
import { generatePrivateKey, privateKeyToAccount } from "viem/accounts";

import { createSettle, payGasless, SettleError, verifyWebhook } from "./index.js";

const env = (name: string): string => {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is not set`);
  return v;
};
function check(ok: unknown, what: string): asserts ok {
  if (!ok) throw new Error(`smoke: ${what}`);
}
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const baseUrl = env("SETTLE_URL");
const settle = createSettle({ baseUrl, apiKey: env("SETTLE_KEY") });
const run = `${Date.now()}`;

// Create, read, list with a cursor.
const created: string[] = [];
for (let n = 0; n < 3; n++) {
  const { data, error, response } = await settle.POST("/v1/payments", {
    body: { orderId: `ts-${run}-${n}`, amount: "1500", currency: "KRW", rail: "CARD", metadata: { run, n: String(n) } },
    headers: { "Idempotency-Key": `ts-${run}-${n}` },
  });
  check(!error && response.status === 201, `create: ${response.status} ${JSON.stringify(error)}`);
  check(data.status === "PENDING" && data.metadata?.run === run, `created: ${JSON.stringify(data)}`);
  created.push(data.paymentId);
}
const got = await settle.GET("/v1/payments/{paymentId}", { params: { path: { paymentId: created[0] } } });
check(got.data?.paymentId === created[0] && got.data.amount === "1500", `get: ${JSON.stringify(got.data ?? got.error)}`);
const page1 = await settle.GET("/v1/payments", { params: { query: { limit: 2, metadata: { run } } } });
check(page1.data?.hasMore === true && page1.data.data.length === 2, `page 1: ${JSON.stringify(page1.data ?? page1.error)}`);
const last = page1.data.data[1].paymentId;
const page2 = await settle.GET("/v1/payments", { params: { query: { limit: 2, startingAfter: last, metadata: { run } } } });
check(page2.data?.hasMore === false && page2.data.data.length === 1, `page 2: ${JSON.stringify(page2.data ?? page2.error)}`);
const seen = [...page1.data.data, ...page2.data.data].map((p) => p.paymentId).sort();
check(JSON.stringify(seen) === JSON.stringify([...created].sort()), "the pages hold every payment once");

// Update metadata; cancel.
const updated = await settle.POST("/v1/payments/{paymentId}", {
  params: { path: { paymentId: created[0] } },
  body: { metadata: { n: null, tier: "gold" }, description: "smoke" },
});
check(updated.data?.metadata?.tier === "gold" && updated.data.metadata.n === undefined, `update: ${JSON.stringify(updated.data ?? updated.error)}`);
check(updated.data.description === "smoke", "the description is set");
const cancelled = await settle.POST("/v1/payments/{paymentId}/cancel", { params: { path: { paymentId: created[0] } } });
check(cancelled.data?.status === "CANCELLED", `cancel: ${JSON.stringify(cancelled.data ?? cancelled.error)}`);
const again = await settle.POST("/v1/payments/{paymentId}/cancel", { params: { path: { paymentId: created[0] } } });
check(again.response.status === 409 && again.error?.error.code === "invalid_state", "a second cancel is a 409 in the envelope");
// Test mode (the demo key is a test key): a simulated decline, driven as the card rail reports one.
check(got.data.livemode === false, "a test key's payment is not live");
const declined = await settle.POST("/v1/test/payments/{paymentId}/simulate", {
  params: { path: { paymentId: created[2] } },
  body: { outcome: "decline" },
});
check(declined.data?.status === "FAILED" && declined.data.livemode === false, `simulate: ${JSON.stringify(declined.data ?? declined.error)}`);
console.log("smoke: create, get, list by cursor, update, cancel, simulate: ok");

// A webhook: an endpoint on this machine gets payment.updated for a change, signed; verified by the helper.
const received: { body: string; headers: Record<string, string | string[] | undefined> }[] = [];
const server = createServer((req, res) => {
  let body = "";
  req.on("data", (c) => (body += c));
  req.on("end", () => {
    received.push({ body, headers: req.headers });
    res.writeHead(200).end();
  });
});
await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
const hookUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`;
const ep = await settle.POST("/v1/webhook-endpoints", { body: { url: hookUrl, events: ["payment.updated"] } });
check(ep.data?.secret, `endpoint: ${JSON.stringify(ep.data ?? ep.error)}`);
await settle.POST("/v1/payments/{paymentId}", { params: { path: { paymentId: created[1] } }, body: { metadata: { hook: run } } });
// (An update made before the endpoint existed may reach it too: events fan out to endpoints as they are published.)
const mine = () => received.find((d) => d.body.includes(created[1]));
for (let i = 0; i < 300 && !mine(); i++) await sleep(100);
const delivery = mine();
check(delivery, "a delivery arrived");
const event = verifyWebhook<{ paymentId: string; metadata: Record<string, string> }>(ep.data.secret, delivery.body, delivery.headers);
check(event.type === "payment.updated" && event.data.paymentId === created[1] && event.data.metadata.hook === run, `event: ${JSON.stringify(event)}`);
let forged = false;
try {
  verifyWebhook(ep.data.secret, delivery.body.replace(run, "forged"), delivery.headers);
} catch {
  forged = true;
}
check(forged, "a changed body fails verification");
server.close();
await settle.DELETE("/v1/webhook-endpoints/{endpointId}", { params: { path: { endpointId: ep.data.id } } });
console.log("smoke: webhook received and verified: ok");

// Bad input: a 4xx in the envelope, naming the field.
const bad = await settle.POST("/v1/payments", { body: { orderId: `ts-${run}-bad`, amount: "-5", currency: "KRW", rail: "CARD" } });
check(bad.response.status === 400 && bad.error?.error.param === "amount", `bad input: ${JSON.stringify(bad.error)}`);

// A gasless payment through the checkout helper, on a dev chain.
if (process.env.SMOKE_RPC) {
  const rpc = env("SMOKE_RPC");
  const chainId = Number(env("SMOKE_CHAIN_ID"));
  const chain = defineChain({ id: chainId, name: "dev", nativeCurrency: { name: "Ether", symbol: "ETH", decimals: 18 }, rpcUrls: { default: { http: [rpc] } } });
  const token = env("SMOKE_TOKEN") as Hex;
  const payer = createWalletClient({ account: privateKeyToAccount(generatePrivateKey()), chain, transport: http(rpc) });
  const minter = createWalletClient({ account: privateKeyToAccount(env("SMOKE_MINTER_KEY") as Hex), chain, transport: http(rpc) });
  const chainRead = createPublicClient({ chain, transport: http(rpc) });
  const mined = await minter.writeContract({
    address: token,
    abi: parseAbi(["function mint(address to, uint256 amount)"]),
    functionName: "mint",
    args: [payer.account.address, 5000n],
  });
  await chainRead.waitForTransactionReceipt({ hash: mined });
  const { data: payment, error } = await settle.POST("/v1/payments", {
    body: { orderId: `ts-${run}-chain`, amount: "1500", currency: "USDC", chainId, tokenAddress: token, recipientAddress: env("SMOKE_RECIPIENT") },
  });
  check(payment?.clientSecret, `chain create: ${JSON.stringify(error)}`);
  const relayed = await payGasless({ baseUrl, clientSecret: payment.clientSecret, paymentId: payment.paymentId, wallet: payer, wait: false, idempotencyKey: `ts-${run}` });
  check(relayed.status === 202 && relayed.relayRequestId.startsWith("rr_"), `relay: ${JSON.stringify(relayed)}`);
  let status = "";
  for (let i = 0; i < 600 && status !== "COMPLETED"; i++) {
    await fetch(rpc, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "evm_mine", params: [] }) });
    status = (await settle.GET("/v1/payments/{paymentId}", { params: { path: { paymentId: payment.paymentId } } })).data?.status ?? "";
    if (status !== "COMPLETED") await sleep(100);
  }
  check(status === "COMPLETED", `the gasless payment completed (${status})`);
  const balance = await chainRead.getBalance({ address: payer.account.address });
  check(balance === 0n, "the payer never held ETH");
  console.log("smoke: gasless payment through the checkout helper: ok");
}

// The client secret opens its own payment's checkout only.
try {
  await payGasless({ baseUrl, clientSecret: "pcs_nothing", paymentId: created[2], wallet: createWalletClient({ account: privateKeyToAccount(generatePrivateKey()), transport: http("http://127.0.0.1:9") }) });
  check(false, "a bad client secret is refused");
} catch (e) {
  check(e instanceof SettleError && e.status === 401, `a bad client secret: ${e}`);
}
console.log("smoke: ok");
