// A CHAIN refund signed from the dashboard in a real browser: the payment's page asks for a refund (REQUIRES_ACTION:
// it waits on the recipient), "Sign with the recipient's wallet" has the wallet sign the refund's terms and the
// token's permit (the recipient's allowance is 0), and submits them: the refund goes PENDING (Settle's relayer sends
// it) and its timeline follows it to SUCCEEDED while the test mines. The wallet is an EIP-1193 provider in the page
// whose accounts and signatures are anvil's (its dev accounts are unlocked), reached through Node, so the page itself
// talks to Settle alone; no console error.
// Usage: node chain_refund.mjs <base URL> <API key> <payment id> <anvil URL> <recipient address>; prints a JSON
// summary; exits 1 on a failure.
import { checkClean, openPage } from "./lib.mjs";

const [base, key, paymentId, rpc, recipient] = process.argv.slice(2);
const seen = await openPage(base);
const { browser, page, errors } = seen;
const failures = [];
const check = (ok, what) => ok || failures.push(what);
const anvil = async (method, params) => {
  const res = await fetch(rpc, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ jsonrpc: "2.0", id: 1, method, params }) }).then((r) => r.json());
  if (res.error) throw new Error(res.error.message);
  return res.result;
};
const asked = [];
let refundId = null;
try {
  await page.exposeFunction("settleTestWallet", async (method, params) => {
    asked.push(method);
    if (method === "eth_requestAccounts" || method === "eth_accounts") return [recipient];
    if (method === "eth_signTypedData_v4") return anvil(method, [params[0], JSON.parse(params[1])]);
    throw new Error(`the test wallet does not do ${method}`);
  });
  await page.addInitScript(() => {
    window.ethereum = { request: ({ method, params }) => window.settleTestWallet(method, params || []) };
  });
  await page.goto(base + "/dashboard", { waitUntil: "load" });
  await page.waitForSelector("#key:focus", { timeout: 10000 });
  await page.keyboard.type(key);
  await page.keyboard.press("Enter");
  await page.waitForSelector("#payments", { state: "attached", timeout: 15000 });

  await page.goto(`${base}/dashboard#/payments/${paymentId}`);
  await page.waitForSelector("#refund", { timeout: 15000 });
  await page.fill("#refund-amount", "400");
  await page.click("#refund");
  const button = "#timeline li.refund button.sign";
  await page.waitForSelector(button, { timeout: 15000 });
  refundId = await page.getAttribute(button, "data-sign");
  await page.click(button);
  await page.waitForSelector("#timeline li.refund .s-PENDING, #timeline li.refund .s-SUCCEEDED", { timeout: 20000 });
  check(!(await page.$(button)), "the sign button stays once the refund is submitted");
  check(asked.filter((m) => m === "eth_signTypedData_v4").length === 2, `the wallet was asked ${asked.join(", ")}: the terms and the permit`);
  // Mined until confirmed: the page follows the refund to SUCCEEDED without a reload.
  for (let i = 0; i < 60 && !(await page.$("#timeline li.refund .s-SUCCEEDED")); i++) {
    await anvil("evm_mine", []);
    await page.waitForTimeout(250);
  }
  await page.waitForSelector("#timeline li.refund .s-SUCCEEDED", { timeout: 15000 });
  await page.waitForSelector("dd:has-text('400 USDC (partial)')", { timeout: 15000 });
  checkClean(seen, failures);
  console.log(JSON.stringify({ refundId, failures }));
} catch (e) {
  failures.push(String(e));
  console.log(JSON.stringify({ refundId, failures, errors, asked }));
} finally {
  await browser.close();
}
process.exit(failures.length ? 1 : 0);
