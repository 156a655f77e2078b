// The dashboard in a real browser: sign in (by keyboard), a payment created through the API appears without a
// reload, its page opens, it is cancelled from the page and the CANCELLED event shows; a paid card payment is refunded
// from its page, in part then in full, the refunds in its timeline; the orders and health pages
// render; no console error; no request leaves the Settle under test; readable at a phone's width.
// Usage: node dashboard.mjs <base URL> <API key> <screenshot directory>; prints a JSON summary; exits 1 on a failure.
import { checkClean, openPage, scrollsSideways } from "./lib.mjs";

const [base, key, shots] = process.argv.slice(2);
const seen = await openPage(base);
const { browser, page, errors } = seen;
const failures = [];
const check = (ok, what) => ok || failures.push(what);
try {
  await page.goto(base + "/dashboard", { waitUntil: "load" });

  // Sign in with the keyboard alone: the key field has focus; type, Enter.
  await page.waitForSelector("#key:focus", { timeout: 10000 });
  await page.keyboard.type(key);
  await page.keyboard.press("Enter");
  await page.waitForSelector("#payments", { state: "attached", timeout: 15000 });
  await page.waitForSelector("#live:has-text('live')", { timeout: 15000 });
  // The demo key is a test key: the dashboard says which mode it shows.
  await page.waitForSelector("#mode:has-text('Test mode')", { timeout: 15000 });
  check(!(await page.evaluate(() => document.cookie)), "a cookie was set");
  check(!page.url().includes(key), "the key is in the URL");

  // A payment made through the API appears without a reload.
  const orderId = `dash-${Date.now()}`;
  const created = await fetch(base + "/v1/payments", {
    method: "POST",
    headers: { authorization: `Bearer ${key}`, "content-type": "application/json" },
    body: JSON.stringify({ orderId, amount: "4200", currency: "KRW", rail: "CARD" }),
  }).then((r) => r.json());
  const id = created.paymentId;
  const row = `#payments tr[data-id="${id}"]`;
  await page.waitForSelector(row, { timeout: 15000 });
  check((await page.textContent(row)).includes(orderId), "the new row shows its order id");
  if (shots) await page.screenshot({ path: `${shots}/dashboard-payments.png` });

  // Its page, by keyboard; cancelled from the page; the event shows.
  await page.focus(row);
  await page.keyboard.press("Enter");
  await page.waitForSelector("#cancel", { timeout: 15000 });
  const details = await page.$$eval("dl dd", (els) => els.map((e) => e.textContent));
  check(details.includes(orderId) && details.includes("4200 KRW"), `the details show the payment: ${details.join(" | ")}`);
  await page.click("#cancel");
  await page.waitForSelector("#timeline :text('CANCELLED')", { timeout: 15000 });
  const status = await fetch(`${base}/v1/payments/${id}`, { headers: { authorization: `Bearer ${key}` } }).then((r) => r.json());
  check(status.status === "CANCELLED", `the payment is ${status.status}`);
  if (shots) await page.screenshot({ path: `${shots}/dashboard-payment.png` });

  // A completed card payment refunded from its page, in part and then what is left; both refunds SUCCEED and show
  // in its timeline.
  const paid = await fetch(base + "/v1/payments", {
    method: "POST",
    headers: { authorization: `Bearer ${key}`, "content-type": "application/json" },
    body: JSON.stringify({ orderId: `${orderId}-refund`, amount: "9000", currency: "KRW", rail: "CARD" }),
  }).then((r) => r.json());
  const charged = await fetch(`${base}/v1/payments/${paid.paymentId}/card`, {
    method: "POST",
    headers: { authorization: `Bearer ${key}`, "content-type": "application/json" },
    body: JSON.stringify({ cardType: "SAMSUNG", cardNo: "4111-1111-1111-1111" }),
  });
  check(charged.status === 202, `the charge answered ${charged.status}`);
  for (let i = 0; i < 100; i++) {
    const p = await fetch(`${base}/v1/payments/${paid.paymentId}`, { headers: { authorization: `Bearer ${key}` } }).then((r) => r.json());
    if (p.status === "COMPLETED") break;
    await page.waitForTimeout(200);
  }
  await page.goto(`${base}/dashboard#/payments/${paid.paymentId}`);
  await page.waitForSelector("#refund", { timeout: 15000 });
  await page.fill("#refund-amount", "2500");
  await page.click("#refund");
  await page.waitForSelector("#timeline li.refund :text('SUCCEEDED')", { timeout: 20000 });
  await page.waitForSelector("#refund:not([disabled])", { timeout: 15000 });
  await page.click("#refund");
  await page.waitForFunction(() => document.querySelectorAll("#timeline li.refund .s-SUCCEEDED").length === 2, null, { timeout: 20000 });
  await page.waitForSelector("dd:has-text('9000 KRW (full)')", { timeout: 15000 });
  check(!(await page.$("#refund")), "the refund button stays after a full refund");
  const refunds = await fetch(`${base}/v1/payments/${paid.paymentId}/refunds`, { headers: { authorization: `Bearer ${key}` } }).then((r) => r.json());
  const amounts = refunds.data.map((r) => `${r.amount}:${r.status}`).join(",");
  check(amounts === "2500:SUCCEEDED,6500:SUCCEEDED", `the refunds are ${amounts}`);
  if (shots) await page.screenshot({ path: `${shots}/dashboard-refunds.png` });

  // Orders and sagas; health with its charts.
  await page.goto(base + "/dashboard#/orders");
  await page.waitForSelector("svg[aria-label^='Sagas per status']", { timeout: 15000 });
  await page.goto(base + "/dashboard#/health");
  await page.waitForSelector("#health :text('Database')", { timeout: 15000 });
  await page.waitForTimeout(5500);
  await page.waitForSelector("svg[aria-label^='requests/s']", { timeout: 15000 });
  if (shots) await page.screenshot({ path: `${shots}/dashboard-health.png` });

  // A phone's width: no sideways scroll.
  await page.setViewportSize({ width: 390, height: 844 });
  await page.goto(base + "/dashboard#/payments");
  await page.waitForSelector("#payments", { state: "attached", timeout: 15000 });
  check(!(await scrollsSideways(page)), "the payments page scrolls sideways at 390 px");
  if (shots) await page.screenshot({ path: `${shots}/dashboard-phone.png` });

  checkClean(seen, failures);
  console.log(JSON.stringify({ payment: id, failures }));
} catch (e) {
  failures.push(String(e));
  console.log(JSON.stringify({ failures, errors }));
} finally {
  await browser.close();
}
process.exit(failures.length ? 1 : 0);
