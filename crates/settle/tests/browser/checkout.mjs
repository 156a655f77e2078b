// Settle's hosted checkout in a real browser, as a payer: a CHAIN payment paid with a wallet chosen among two EIP-6963
// wallets, which starts on another network and lacks the payment's (the page adds it), and whose first signature
// request the payer rejects (explained, then retried); the payer holds tokens and no ETH, signs the permit and the
// forward request, and Settle relays. The page counts the confirmations from the payment's stream, follows the
// payment to COMPLETED and sends the payer back to the merchant with a signed URL; opened again, the page shows it
// paid. A CHAIN payment above the payer's balance is explained before anything is signed; an expired session pays
// nothing. Then CARD: a bad card number is refused in the page, a good one is paid on Settle's side, and the payer is
// sent back; an unreachable Settle and a declined card are explained. In Korean, a browser without a wallet is told
// what to do. Then the embeddable button (/v1/checkout.js) on the merchant's page, of
// another origin: in a popup and in an overlay iframe, its promise resolving with the signed way back, and deaf to a
// message forged by another window. Keyboard only, readable at a phone's width, no console error, no request leaves
// Settle but the merchant's own pages; the page's QR code is its own URL.
// The wallet is an EIP-1193 provider in the page whose accounts and signatures are anvil's (an unlocked dev account
// holding no ETH), reached through Node.
// Usage: node checkout.mjs <base URL> <sessions JSON> <anvil URL> <payer> <merchant origin> <shots>; the sessions are
// {chain, card, short, korean, expired, declined, popup, overlay}; prints a JSON summary; exits 1 on a failure.
import { createServer } from "node:http";
import { checkClean, openPage, scrollsSideways } from "./lib.mjs";
import qrcode from "../../../settle-api/assets/checkout/vendor/qrcode.mjs";

const [base, sessionsJson, rpc, payer, merchantOrigin, shots] = process.argv.slice(2);
const sessions = JSON.parse(sessionsJson);
const failures = [];
const check = (ok, what) => ok || failures.push(what);
const anvil = async (method, params) => {
  const res = await fetch(rpc, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ jsonrpc: "2.0", id: 1, method, params }) }).then((r) => r.json());
  if (res.error) throw Object.assign(new Error(res.error.message), { code: res.error.code });
  return res.result;
};
// The merchant's pages: the one the payer comes back to, and a shop page with Settle's button.
const back = [];
const shop = (session, mode) => `<!doctype html><title>Shop</title>
<script src="${base}/v1/checkout.js"></script>
<button id="buy">Buy</button><pre id="result"></pre>
<script>
  document.getElementById("buy").addEventListener("click", async () => {
    const result = await Settle.checkout(${JSON.stringify(session)}, { mode: ${JSON.stringify(mode)} });
    document.getElementById("result").textContent = JSON.stringify(result);
  });
</script>`;
const merchant = createServer((req, res) => {
  const url = new URL(req.url, merchantOrigin);
  if (url.pathname === "/shop") {
    return res.writeHead(200, { "content-type": "text/html" }).end(shop(url.searchParams.get("session"), url.searchParams.get("mode")));
  }
  back.push(req.url);
  res.writeHead(200, { "content-type": "text/html" }).end("<!doctype html><title>Thanks</title><p>Thanks</p>");
});
await new Promise((r) => merchant.listen(Number(new URL(merchantOrigin).port), "127.0.0.1", r));

const seen = await openPage(base);
const { browser, page, errors } = seen;
const asked = [];
let chainId = "0x1";
const known = new Set(["0x1"]);
let added = null;
let rejectNext = true;
// "Pay with your wallet", then, among the two wallets the page lists, the test one: keyboard only.
async function payWithTestWallet() {
  await page.focus("#pay");
  await page.keyboard.press("Enter");
  await page.waitForSelector("button[data-wallet='Test Wallet']", { timeout: 15000 });
  await page.focus("button[data-wallet='Test Wallet']");
  await page.keyboard.press("Enter");
}
const summary = { chainReturn: null, cardReturn: null, popup: null, overlay: null, asked };
const context = page.context();
context.on("page", (p) => {
  p.on("console", (m) => m.type() === "error" && errors.push(`popup: ${m.text()}`));
  p.on("pageerror", (e) => errors.push(`popup: ${e}`));
});
try {
  await context.exposeFunction("settleTestWallet", async (method, params) => {
    asked.push(method);
    switch (method) {
      case "eth_requestAccounts":
      case "eth_accounts":
        return [payer];
      case "eth_chainId":
        return chainId;
      case "wallet_switchEthereumChain":
        if (!known.has(params[0].chainId)) throw new Error(`[4902] Unrecognized chain ID ${params[0].chainId}`);
        chainId = params[0].chainId;
        return null;
      case "wallet_addEthereumChain":
        added = params[0];
        known.add(added.chainId);
        chainId = added.chainId;
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
  await context.addInitScript(() => {
    const testWallet = {
      request: async ({ method, params }) => {
        try {
          return await window.settleTestWallet(method, params || []);
        } catch (e) {
          // An exposed function's error loses its code: the message carries it ([4902]), or says rejected (4001).
          const err = new Error(e.message);
          const code = /\[(\d{4})\]/.exec(e.message);
          if (code) err.code = Number(code[1]);
          else if (/rejected/i.test(e.message)) err.code = 4001;
          throw err;
        }
      },
    };
    const otherWallet = { request: async () => Promise.reject(Object.assign(new Error("the other wallet was used"), { code: 4100 })) };
    window.ethereum = otherWallet;
    // EIP-6963: two wallets announce themselves; the payer chooses the test one.
    const announce = () => {
      for (const [name, provider] of [["Other Wallet", otherWallet], ["Test Wallet", testWallet]]) {
        const info = { uuid: `00000000-0000-4000-8000-00000000000${name.length}`, name, rdns: `test.${name.split(" ")[0].toLowerCase()}`, icon: "data:image/svg+xml,%3Csvg xmlns='http://www.w3.org/2000/svg'/%3E" };
        window.dispatchEvent(new CustomEvent("eip6963:announceProvider", { detail: Object.freeze({ info, provider }) }));
      }
    };
    window.addEventListener("eip6963:requestProvider", announce);
  });

  // CHAIN, keyboard only.
  await page.goto(`${base}/checkout/${sessions.chain}`, { waitUntil: "load" });
  await page.waitForSelector("#pay", { timeout: 15000 });
  check((await page.textContent("#amount")).includes("0.0015 USDC"), `the amount shows with its decimals: ${await page.textContent("#amount")}`);
  check((await page.textContent("#merchant")) === "Demo Shop", "the merchant's name shows");
  // The QR code of the page's own URL, drawn in the page by the vendored library.
  await page.focus("#phone summary");
  await page.keyboard.press("Enter");
  const qrSrc = await page.getAttribute("#qr", "src");
  const qr = qrcode(0, "M");
  qr.addData(`${new URL(base).origin}/checkout/${sessions.chain}`);
  qr.make();
  check(qrSrc === qr.createDataURL(4, 4), "the QR code is the page's URL");
  if (shots) await page.screenshot({ path: `${shots}/checkout-chain.png` });
  await payWithTestWallet();
  await page.waitForSelector("#error:not(:empty)", { timeout: 15000 });
  const rejected = await page.textContent("#error");
  check(/rejected/i.test(rejected), `a rejected signature is explained: ${rejected}`);
  check(chainId === "0x7a69", `the wallet was switched to 31337: ${chainId}`);
  check(added?.rpcUrls?.[0] === rpc && added?.chainName && added?.nativeCurrency?.decimals === 18, `the wallet lacking the chain was asked to add it: ${JSON.stringify(added)}`);
  await page.focus("#pay");
  await page.keyboard.press("Enter");
  await page.waitForSelector("#status:has-text('PROCESSING'), #status:has-text('COMPLETED')", { timeout: 30000 });
  // The relay's block is the first of two confirmations: the page counts them from the payment's stream.
  await page.waitForSelector("#confirmations:has-text('1 of 2')", { timeout: 20000 });
  for (let i = 0; i < 120 && !page.url().startsWith(merchantOrigin); i++) {
    await anvil("evm_mine", []);
    await page.waitForTimeout(250);
  }
  await page.waitForURL(`${merchantOrigin}/**`, { timeout: 20000 });
  summary.chainReturn = page.url();
  check(asked.filter((m) => m === "eth_signTypedData_v4").length === 3, `the wallet was asked ${asked.join(", ")}: one rejected, the permit and the request`);

  // Opened again once paid: the page shows it paid and sends the payer back, asking the wallet nothing.
  const askedBefore = asked.length;
  await page.goto(`${base}/checkout/${sessions.chain}`, { waitUntil: "load" });
  await page.waitForSelector("#status:has-text('COMPLETED')", { timeout: 15000 });
  check((await page.textContent("#note")).length > 0, "a paid payment says so");
  await page.waitForURL(`${merchantOrigin}/**`, { timeout: 20000 });
  check(asked.length === askedBefore, `the wallet was asked nothing for a paid payment: ${asked.slice(askedBefore)}`);

  // More than the payer holds: explained with both figures before anything is signed.
  await page.goto(`${base}/checkout/${sessions.short}`, { waitUntil: "load" });
  await page.waitForSelector("#pay", { timeout: 15000 });
  const signedBefore = asked.filter((m) => m === "eth_signTypedData_v4").length;
  await payWithTestWallet();
  await page.waitForSelector("#error:not(:empty)", { timeout: 15000 });
  const short = await page.textContent("#error");
  check(short.includes("0.0085 USDC") && short.includes("1 USDC"), `insufficient balance is explained with both figures: ${short}`);
  check(asked.filter((m) => m === "eth_signTypedData_v4").length === signedBefore, "nothing was signed for a payment above the balance");

  // An expired session: explained, nothing to pay with.
  await page.goto(`${base}/checkout/${sessions.expired}`, { waitUntil: "load" });
  await page.waitForSelector("#error:not(:empty)", { timeout: 15000 });
  check(/expired/i.test(await page.textContent("#error")), "an expired session is explained");
  check((await page.$("#pay")) === null, "an expired session offers nothing to pay with");

  // CARD: a bad number refused in the page; a good one paid; phone width.
  await page.setViewportSize({ width: 390, height: 844 });
  await page.goto(`${base}/checkout/${sessions.card}`, { waitUntil: "load" });
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

  // Settle unreachable: said, nothing charged; then a declined card: explained, nothing charged.
  await page.goto(`${base}/checkout/${sessions.declined}`, { waitUntil: "load" });
  await page.waitForSelector("#card-no", { timeout: 15000 });
  await page.fill("#card-no", "4111111111111111");
  const cut = (route) => (route.request().method() === "POST" ? route.abort("connectionrefused") : route.continue());
  await page.route("**/card", cut);
  await page.focus("#card-no");
  await page.keyboard.press("Enter");
  await page.waitForSelector("#error:not(:empty)", { timeout: 15000 });
  check(/could not be reached/i.test(await page.textContent("#error")), `an unreachable Settle is said: ${await page.textContent("#error")}`);
  await page.unroute("**/card", cut);
  const cutLog = errors.findIndex((e) => /ERR_CONNECTION_REFUSED|Failed to load resource/.test(e));
  if (cutLog >= 0) errors.splice(cutLog, 1);
  await page.focus("#pay");
  await page.keyboard.press("Enter");
  await page.waitForSelector("#error:has-text('declined')", { timeout: 30000 });
  check(/declined/i.test(await page.textContent("#error")), `a decline is explained: ${await page.textContent("#error")}`);
  // The browser logs the 402 answer itself: that one is expected.
  const declinedLog = errors.findIndex((e) => /status of 402/.test(e));
  check(declinedLog >= 0, "the decline was Settle's 402");
  if (declinedLog >= 0) errors.splice(declinedLog, 1);

  // In Korean (the session's locale), in a browser without a wallet: said, with the way forward.
  const bare = await browser.newContext();
  const plain = await bare.newPage();
  plain.on("console", (m) => m.type() === "error" && errors.push(`no wallet: ${m.text()}`));
  await plain.goto(`${base}/checkout/${sessions.korean}`, { waitUntil: "load" });
  await plain.waitForSelector("#pay", { timeout: 15000 });
  check((await plain.textContent("#pay")) === "지갑으로 결제" && (await plain.getAttribute("html", "lang")) === "ko", "the page speaks the session's Korean");
  await plain.focus("#pay");
  await plain.keyboard.press("Enter");
  await plain.waitForSelector("#error:not(:empty)", { timeout: 15000 });
  check((await plain.textContent("#error")).includes("지갑이 없습니다"), `a missing wallet is said: ${await plain.textContent("#error")}`);
  await bare.close();

  // The embeddable button on the merchant's own page (another origin): a popup.
  await page.setViewportSize({ width: 1280, height: 900 });
  await page.goto(`${merchantOrigin}/shop?session=${sessions.popup}&mode=popup`, { waitUntil: "load" });
  const [popup] = await Promise.all([context.waitForEvent("page"), page.click("#buy")]);
  await popup.waitForSelector("#card-no", { timeout: 15000 });
  await popup.fill("#card-no", "4111111111111111");
  await popup.focus("#card-no");
  await popup.keyboard.press("Enter");
  await page.waitForSelector("#result:not(:empty)", { timeout: 30000 });
  summary.popup = JSON.parse(await page.textContent("#result"));
  check(page.url().startsWith(`${merchantOrigin}/shop`), "the merchant's page stays where it was");

  // The same in an overlay iframe; a message forged by the merchant page's own window is not heard.
  await page.goto(`${merchantOrigin}/shop?session=${sessions.overlay}&mode=overlay`, { waitUntil: "load" });
  await page.click("#buy");
  const frame = page.frameLocator("iframe[title=Checkout]");
  await frame.locator("#card-no").waitFor({ timeout: 15000 });
  // Escape in the frame closes it, unpaid; opened again, it is paid.
  await frame.locator("#card-no").press("Escape");
  await page.waitForSelector("#result:not(:empty)", { timeout: 15000 });
  check(JSON.parse(await page.textContent("#result")).status === "closed", `Escape closes the overlay: ${await page.textContent("#result")}`);
  check((await page.$("iframe[title=Checkout]")) === null, "the closed overlay is gone");
  await page.evaluate(() => (document.getElementById("result").textContent = ""));
  await page.click("#buy");
  await frame.locator("#card-no").waitFor({ timeout: 15000 });
  await page.evaluate((sessionId) => window.postMessage({ type: "settle:checkout", sessionId, status: "completed", paymentId: "0xforged" }, "*"), sessions.overlay);
  if (shots) await page.screenshot({ path: `${shots}/checkout-overlay.png` });
  await frame.locator("#card-no").fill("4111111111111111");
  await frame.locator("#card-no").press("Enter");
  await page.waitForSelector("#result:not(:empty)", { timeout: 30000 });
  summary.overlay = JSON.parse(await page.textContent("#result"));
  check(summary.overlay.paymentId !== "0xforged", "the message forged before the payment was not heard");
  check((await page.$("iframe[title=Checkout]")) === null, "the overlay is gone once paid");

  // The page talked to Settle alone; the way back is the merchant's.
  seen.outside.splice(0, seen.outside.length, ...seen.outside.filter((u) => !u.startsWith(merchantOrigin + "/")));
  checkClean(seen, failures);
} catch (e) {
  failures.push(String(e));
  summary.errors = errors;
  summary.at = page.url();
  if (shots) await page.screenshot({ path: `${shots}/checkout-failure.png` }).catch(() => {});
} finally {
  await browser.close();
  merchant.close();
}
console.log(JSON.stringify({ ...summary, back, failures }));
process.exit(failures.length ? 1 : 0);
