// Settle's hosted checkout in a real browser, as a payer: a CHAIN payment paid with a wallet that starts on another
// network (the page switches it), whose first signature request the payer rejects (explained, then retried); the
// payer holds tokens and no ETH, signs the permit and the forward request, and Settle relays. The page follows the
// payment to COMPLETED and sends the payer back to the merchant with a signed URL. Then a CARD payment: a bad card
// number is refused in the page, a good one is paid on Settle's side, and the payer is sent back. Keyboard only,
// readable at a phone's width, no console error, no request leaves Settle but the way back to the merchant.
// The wallet is an EIP-1193 provider in the page whose accounts and signatures are anvil's (an unlocked dev account
// holding no ETH), reached through Node.
// Usage: node checkout.mjs <base URL> <chain session> <card session> <anvil URL> <payer> <merchant origin> <shots>;
// prints a JSON summary; exits 1 on a failure.
import { createServer } from "node:http";
import { checkClean, openPage, scrollsSideways } from "./lib.mjs";

const [base, chainSession, cardSession, rpc, payer, merchantOrigin, shots] = process.argv.slice(2);
const failures = [];
const check = (ok, what) => ok || failures.push(what);
const anvil = async (method, params) => {
  const res = await fetch(rpc, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ jsonrpc: "2.0", id: 1, method, params }) }).then((r) => r.json());
  if (res.error) throw Object.assign(new Error(res.error.message), { code: res.error.code });
  return res.result;
};
// The merchant's page the payer comes back to.
const back = [];
const merchant = createServer((req, res) => {
  back.push(req.url);
  res.writeHead(200, { "content-type": "text/html" }).end("<!doctype html><title>Thanks</title><p>Thanks</p>");
});
await new Promise((r) => merchant.listen(Number(new URL(merchantOrigin).port), "127.0.0.1", r));

const seen = await openPage(base);
const { browser, page, errors } = seen;
const asked = [];
let chainId = "0x1";
let rejectNext = true;
const summary = { chainReturn: null, cardReturn: null, asked };
try {
  await page.exposeFunction("settleTestWallet", async (method, params) => {
    asked.push(method);
    switch (method) {
      case "eth_requestAccounts":
      case "eth_accounts":
        return [payer];
      case "eth_chainId":
        return chainId;
      case "wallet_switchEthereumChain":
        chainId = params[0].chainId;
        return null;
      case "eth_call":
        return anvil(method, params);
      case "eth_signTypedData_v4":
        if (rejectNext) {
          rejectNext = false;
          throw Object.assign(new Error("User rejected the request."), { code: 4001 });
        }
        return anvil(method, [params[0], JSON.parse(params[1])]);
      default:
        throw Object.assign(new Error(`the test wallet does not do ${method}`), { code: 4200 });
    }
  });
  await page.addInitScript(() => {
    window.ethereum = {
      request: async ({ method, params }) => {
        try {
          return await window.settleTestWallet(method, params || []);
        } catch (e) {
          // An exposed function's error loses its code: the message carries the wallet's 4001.
          const err = new Error(e.message);
          if (/rejected/i.test(e.message)) err.code = 4001;
          throw err;
        }
      },
    };
  });

  // CHAIN, keyboard only.
  await page.goto(`${base}/checkout/${chainSession}`, { waitUntil: "load" });
  await page.waitForSelector("#pay", { timeout: 15000 });
  check((await page.textContent("#amount")).includes("0.0015 USDC"), `the amount shows with its decimals: ${await page.textContent("#amount")}`);
  check((await page.textContent("#merchant")) === "Demo Shop", "the merchant's name shows");
  if (shots) await page.screenshot({ path: `${shots}/checkout-chain.png` });
  await page.focus("#pay");
  await page.keyboard.press("Enter");
  await page.waitForSelector("#error:not(:empty)", { timeout: 15000 });
  const rejected = await page.textContent("#error");
  check(/rejected/i.test(rejected), `a rejected signature is explained: ${rejected}`);
  check(chainId === "0x7a69", `the wallet was switched to 31337: ${chainId}`);
  await page.focus("#pay");
  await page.keyboard.press("Enter");
  await page.waitForSelector("#status:has-text('PROCESSING'), #status:has-text('COMPLETED')", { timeout: 30000 });
  for (let i = 0; i < 120 && !page.url().startsWith(merchantOrigin); i++) {
    await anvil("evm_mine", []);
    await page.waitForTimeout(250);
  }
  await page.waitForURL(`${merchantOrigin}/**`, { timeout: 20000 });
  summary.chainReturn = page.url();
  check(asked.filter((m) => m === "eth_signTypedData_v4").length === 3, `the wallet was asked ${asked.join(", ")}: one rejected, the permit and the request`);

  // CARD: a bad number refused in the page; a good one paid; phone width.
  await page.setViewportSize({ width: 390, height: 844 });
  await page.goto(`${base}/checkout/${cardSession}`, { waitUntil: "load" });
  await page.waitForSelector("#card-no", { timeout: 15000 });
  check(!(await scrollsSideways(page)), "the checkout page scrolls sideways at 390 px");
  await page.focus("#card-no");
  await page.keyboard.type("4111-1111-1111-1112");
  await page.keyboard.press("Enter");
  await page.waitForSelector("#error:not(:empty)", { timeout: 5000 });
  await page.fill("#card-no", "4111111111111111");
  if (shots) await page.screenshot({ path: `${shots}/checkout-card.png` });
  await page.focus("#card-no");
  await page.keyboard.press("Enter");
  await page.waitForURL(`${merchantOrigin}/**`, { timeout: 30000 });
  summary.cardReturn = page.url();

  // The page talked to Settle alone; the way back is the merchant's.
  seen.outside.splice(0, seen.outside.length, ...seen.outside.filter((u) => !u.startsWith(merchantOrigin + "/")));
  checkClean(seen, failures);
} catch (e) {
  failures.push(String(e));
  summary.errors = errors;
} finally {
  await browser.close();
  merchant.close();
}
console.log(JSON.stringify({ ...summary, back, failures }));
process.exit(failures.length ? 1 : 0);
