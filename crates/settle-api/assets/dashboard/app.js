// Settle's dashboard: a merchant's payments (live), orders and sagas, and Settle's health, from its own API.
// No framework, no build step, nothing loaded from elsewhere; the API key lives in this tab's sessionStorage only.

const KEY = "settle.apiKey";
const STATUSES = ["PENDING", "PROCESSING", "COMPLETED", "FAILED", "CANCELLED", "EXPIRED", "CANCELLING"];
const SAGA_STATUSES = ["PENDING", "IN_PROGRESS", "COMPLETED", "FAILED", "COMPENSATING", "COMPENSATED"];
let apiKey = sessionStorage.getItem(KEY);
// The last event seen: its id (the stream's Last-Event-ID) and its seq.
let lastId = null;
let lastSeq = null;
let streamAbort = null;
const listeners = new Set();
let leavePage = () => {};

// ---- small helpers ------------------------------------------------------------------------------------------
const $ = (sel, root = document) => root.querySelector(sel);
function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === "class") el.className = v;
    else if (k.startsWith("on")) el.addEventListener(k.slice(2), v);
    else if (v !== undefined && v !== null && v !== false) el.setAttribute(k, v === true ? "" : v);
  }
  for (const c of children.flat(Infinity)) if (c !== null && c !== undefined && c !== false) el.append(c instanceof Node ? c : String(c));
  return el;
}
function svg(tag, attrs = {}, ...children) {
  const el = document.createElementNS("http://www.w3.org/2000/svg", tag);
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, v);
  for (const c of children) el.append(c instanceof Node ? c : String(c));
  return el;
}
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const short = (id) => (id && id.length > 18 ? `${id.slice(0, 10)}…${id.slice(-6)}` : id || "");
const when = (t) => (t ? new Date(t).toLocaleString() : "");
const status = (s) => h("span", { class: `status s-${s}` }, s);
function newKey() {
  const b = new Uint8Array(16);
  crypto.getRandomValues(b);
  return Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
}
function setLive(text) {
  $("#live").textContent = text;
}

async function api(method, path, body, idempotencyKey) {
  const headers = { authorization: `Bearer ${apiKey}` };
  if (body !== undefined) {
    headers["content-type"] = "application/json";
    headers["idempotency-key"] = idempotencyKey || newKey();
  }
  const res = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  const json = await res.json().catch(() => null);
  if (res.status === 401) {
    signOut("Your key was refused; sign in again.");
    throw new Error("unauthorized");
  }
  if (!res.ok) throw new Error(json?.error?.message || `${res.status}`);
  return json;
}

// ---- the event stream (SSE over fetch: EventSource cannot send the key in a header) ---------------------------
async function stream() {
  while (apiKey) {
    streamAbort = new AbortController();
    try {
      const headers = { authorization: `Bearer ${apiKey}` };
      if (lastId !== null) headers["last-event-id"] = lastId;
      const res = await fetch("/v1/events/stream", { headers, signal: streamAbort.signal });
      if (!res.ok) throw new Error(String(res.status));
      setLive("● live");
      const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
      let buf = "";
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        buf += value;
        let i;
        while ((i = buf.indexOf("\n\n")) >= 0) {
          const frame = buf.slice(0, i);
          buf = buf.slice(i + 2);
          let id = null;
          let data = "";
          for (const line of frame.split("\n")) {
            if (line.startsWith("id:")) id = line.slice(3).trim();
            else if (line.startsWith("data:")) data += line.slice(5).trim();
          }
          if (id !== null && data) {
            lastId = id;
            const ev = JSON.parse(data);
            if (typeof ev.seq === "number") lastSeq = ev.seq;
            for (const l of listeners) l(ev);
          }
        }
      }
    } catch (e) {
      if (!apiKey || e.name === "AbortError") return;
    }
    setLive("○ reconnecting");
    await sleep(1000);
  }
}

// ---- the key's mode: a test key sees test objects only, a live key live ones ----------------------------------
let modeOf = null;

async function showMode() {
  const badge = $("#mode");
  if (!apiKey) {
    badge.hidden = true;
    modeOf = null;
    return;
  }
  if (modeOf === apiKey) return;
  const keys = await api("GET", "/v1/api-keys");
  modeOf = apiKey;
  badge.textContent = keys.livemode ? "Live" : "Test mode";
  badge.className = keys.livemode ? "mode live-mode" : "mode test";
  badge.hidden = false;
}

// ---- sign in and out ------------------------------------------------------------------------------------------
function signOut(message) {
  apiKey = null;
  sessionStorage.removeItem(KEY);
  streamAbort?.abort();
  setLive("");
  $("#signin-error").textContent = message || "";
  route();
}

async function signIn(e) {
  e.preventDefault();
  const key = $("#key").value.trim();
  const res = await fetch("/v1/payments?limit=1", { headers: { authorization: `Bearer ${key}` } });
  if (!res.ok) {
    $("#signin-error").textContent = res.status === 401 ? "This key is not valid." : `Settle answered ${res.status}.`;
    return;
  }
  apiKey = key;
  sessionStorage.setItem(KEY, key);
  $("#key").value = "";
  stream();
  if (!location.hash) location.hash = "#/payments";
  route();
}

// ---- payments -------------------------------------------------------------------------------------------------
const paymentsState = { status: "", rail: "", orderId: "", from: "", to: "", cursors: [] };

function matches(p) {
  const f = paymentsState;
  if (f.status && p.status !== f.status) return false;
  if (f.rail && p.rail !== f.rail) return false;
  if (f.orderId && p.orderId !== f.orderId) return false;
  if (f.from && new Date(p.createdAt) < new Date(f.from)) return false;
  if (f.to && new Date(p.createdAt) > new Date(`${f.to}T23:59:59.999`)) return false;
  return true;
}

function paymentRow(p, fresh) {
  const open = () => (location.hash = `#/payments/${p.paymentId}`);
  return h(
    "tr",
    { tabindex: "0", "data-id": p.paymentId, class: fresh ? "fresh" : "", onclick: open, onkeydown: (e) => e.key === "Enter" && open() },
    h("td", { class: "mono" }, short(p.paymentId)),
    h("td", {}, p.orderId),
    h("td", { class: "wide" }, p.rail),
    h("td", {}, `${p.amount} ${p.currency}`),
    h("td", {}, status(p.status)),
    h("td", { class: "wide" }, when(p.createdAt)),
  );
}

async function paymentsPage(view) {
  const f = paymentsState;
  const form = h(
    "form",
    { class: "card filters", onsubmit: (e) => (e.preventDefault(), (f.cursors = []), readFilters(), load()) },
    h("div", {}, h("label", { for: "f-status" }, "Status"), h("select", { id: "f-status" }, h("option", { value: "" }, "any"), STATUSES.map((s) => h("option", { value: s, selected: f.status === s }, s)))),
    h("div", {}, h("label", { for: "f-rail" }, "Rail"), h("select", { id: "f-rail" }, h("option", { value: "" }, "any"), ["CARD", "CHAIN"].map((s) => h("option", { value: s, selected: f.rail === s }, s)))),
    h("div", {}, h("label", { for: "f-order" }, "Order id"), h("input", { id: "f-order", value: f.orderId })),
    h("div", {}, h("label", { for: "f-from" }, "From"), h("input", { id: "f-from", type: "date", value: f.from })),
    h("div", {}, h("label", { for: "f-to" }, "To"), h("input", { id: "f-to", type: "date", value: f.to })),
    h("div", {}, h("button", { type: "submit" }, "Filter")),
  );
  function readFilters() {
    f.status = $("#f-status").value;
    f.rail = $("#f-rail").value;
    f.orderId = $("#f-order").value.trim();
    f.from = $("#f-from").value;
    f.to = $("#f-to").value;
  }
  const body = h("tbody", { id: "payments" });
  const table = h(
    "div",
    { class: "table-wrap" },
    h("table", {}, h("caption", { class: "skip" }, "Payments, newest first"), h("thead", {}, h("tr", {}, ["Payment", "Order", "Rail", "Amount", "Status", "Created"].map((c, i) => h("th", { scope: "col", class: i === 2 || i === 5 ? "wide" : "" }, c)))), body),
  );
  const older = h("button", { type: "button", class: "secondary", onclick: () => (f.cursors.push(f.last), load()) }, "Older");
  const newer = h("button", { type: "button", class: "secondary", onclick: () => (f.cursors.pop(), load()) }, "Newer");
  const note = h("p", { class: "error", role: "alert" });
  view.append(h("h2", {}, "Payments"), form, table, h("div", { class: "pager" }, newer, older), note);

  async function load() {
    const q = new URLSearchParams({ limit: "50" });
    if (f.status) q.set("status", f.status);
    if (f.orderId) q.set("orderId", f.orderId);
    if (f.rail) q.set("rail", f.rail);
    if (f.from) q.set("createdFrom", new Date(`${f.from}T00:00:00`).toISOString());
    if (f.to) q.set("createdTo", new Date(`${f.to}T23:59:59.999`).toISOString());
    const cursor = f.cursors[f.cursors.length - 1];
    if (cursor) q.set("startingAfter", cursor);
    try {
      const page = await api("GET", `/v1/payments?${q}`);
      body.replaceChildren(...page.data.filter(matches).map((p) => paymentRow(p)));
      f.last = page.data.length ? page.data[page.data.length - 1].paymentId : null;
      older.disabled = !page.hasMore;
      newer.disabled = f.cursors.length === 0;
      note.textContent = "";
    } catch (e) {
      note.textContent = e.message;
    }
  }
  const onEvent = (ev) => {
    if (!ev.type?.startsWith("payment.") || !ev.data?.paymentId) return;
    const p = ev.data;
    const row = body.querySelector(`tr[data-id="${CSS.escape(p.paymentId)}"]`);
    if (row) row.replaceWith(paymentRow(p, true));
    else if (f.cursors.length === 0 && matches(p)) body.prepend(paymentRow(p, true));
  };
  listeners.add(onEvent);
  leavePage = () => listeners.delete(onEvent);
  await load();
}

// A CHAIN refund waiting on its recipient, signed in the recipient's wallet (an EIP-1193 provider: window.ethereum)
// and submitted: Settle's relayer sends it, and the merchant pays no gas. The wallet signs the refund's terms, and the
// token's permit when the recipient's allowance is short.
async function signRefund(refundId, button, note, done) {
  const wallet = window.ethereum;
  if (!wallet) {
    note.textContent = "No wallet in this browser: have the recipient sign GET /v1/refunds/{id}/typed-data, then POST /v1/refunds/{id}/submit.";
    return;
  }
  button.disabled = true;
  note.textContent = "";
  try {
    const td = await api("GET", `/v1/refunds/${encodeURIComponent(refundId)}/typed-data`);
    const accounts = await wallet.request({ method: "eth_requestAccounts" });
    const owner = (accounts || []).find((a) => a.toLowerCase() === td.owner.toLowerCase());
    if (!owner) throw new Error(`Connect the recipient's account ${td.owner} in your wallet: only it can authorize this refund.`);
    // Only what this refund needs is signed: its terms at the payment's gateway, and a permit of the recipient's
    // token to that gateway.
    const same = (a, b) => typeof a === "string" && typeof b === "string" && a.toLowerCase() === b.toLowerCase();
    const terms = td.refundTerms;
    if (terms?.primaryType !== "RefundTerms" || !same(terms.domain?.verifyingContract, td.gateway) || terms.message?.amount !== td.amount)
      throw new Error("The refund's terms do not match the refund: nothing was signed.");
    if (td.permit && (td.permit.primaryType !== "Permit" || !same(td.permit.domain?.verifyingContract, td.token) || !same(td.permit.message?.spender, td.gateway) || !same(td.permit.message?.owner, owner)))
      throw new Error("The permit offered is not one for this refund's gateway: nothing was signed.");
    const sign = (typed) => wallet.request({ method: "eth_signTypedData_v4", params: [owner, JSON.stringify(typed)] });
    const body = { deadline: td.deadline, recipientSignature: await sign(terms) };
    if (td.permit) body.permit = { value: String(td.permit.message.value), deadline: String(td.permit.message.deadline), signature: await sign(td.permit) };
    await api("POST", `/v1/refunds/${encodeURIComponent(refundId)}/submit`, body);
    done();
  } catch (err) {
    note.textContent = err.message || String(err);
    button.disabled = false;
  }
}

async function paymentPage(view, id) {
  const box = h("div");
  view.append(h("p", {}, h("a", { href: "#/payments" }, "← Payments")), box);
  async function render() {
    let p, events, refunds;
    try {
      [p, events, refunds] = await Promise.all([
        api("GET", `/v1/payments/${encodeURIComponent(id)}`),
        api("GET", `/v1/payments/${encodeURIComponent(id)}/events`),
        api("GET", `/v1/payments/${encodeURIComponent(id)}/refunds`),
      ]);
    } catch (e) {
      box.replaceChildren(h("p", { class: "error", role: "alert" }, e.message));
      return;
    }
    const facts = [["Payment", p.paymentId], ["Order", p.orderId], ["Rail", p.rail], ["Amount", `${p.amount} ${p.currency}`], ["Status", status(p.status)], ["Created", when(p.createdAt)], ["Updated", when(p.updatedAt)]];
    if (p.rail === "CARD") facts.push(["Gateway transaction", p.externalPaymentKey || "—"], ["Card", p.cardType ? `${p.cardType} ••••${p.cardLast4 || ""}` : "—"]);
    if (p.rail === "CHAIN") facts.push(["Chain", p.chainId], ["Recipient", p.recipientAddress], ["Payer", p.payer || "—"], ["Transaction", p.txHash || "—"]);
    // A CHAIN payment paid after it was CANCELLED or EXPIRED is refunded too (Settle starts it).
    if (p.status === "COMPLETED" || p.amountRefunded !== "0" || refunds.data.length) facts.push(["Refunded", `${p.amountRefunded} ${p.currency} (${p.refundStatus})`]);
    // A refund of what is left (an empty amount) or of part of it; the refund and its outcome join the timeline.
    const refundNote = h("p", { class: "error", role: "alert", id: "refund-error" });
    // One Idempotency-Key per amount on this page: trying again after an error never refunds twice.
    const refundKeys = {};
    const refund =
      p.status === "COMPLETED" && p.refundStatus !== "full"
        ? h(
            "form",
            { id: "refund-form", class: "refund", onsubmit: async (e) => {
                e.preventDefault();
                const button = $("#refund");
                button.disabled = true;
                const amount = $("#refund-amount").value.trim();
                try {
                  refundKeys[amount] ||= newKey();
                  await api("POST", `/v1/payments/${encodeURIComponent(id)}/refunds`, amount ? { amount } : {}, refundKeys[amount]);
                  render();
                } catch (err) {
                  refundNote.textContent = err.message;
                  button.disabled = false;
                }
              } },
            h("label", { for: "refund-amount" }, "Refund amount (empty: all that is left)"),
            h("input", { id: "refund-amount", inputmode: "numeric", pattern: "[0-9]*", autocomplete: "off" }),
            h("button", { type: "submit", class: "danger", id: "refund" }, "Refund"),
            refundNote,
          )
        : null;
    const cancel =
      p.status === "PENDING"
        ? h("button", { type: "button", class: "danger", id: "cancel", onclick: async (e) => {
            e.target.disabled = true;
            try {
              await api("POST", `/v1/payments/${encodeURIComponent(id)}/cancel`, {});
            } catch (err) {
              box.append(h("p", { class: "error", role: "alert" }, err.message));
            }
            render();
          } }, "Cancel payment")
        : null;
    const timeline = h(
      "ol",
      { class: "timeline", id: "timeline" },
      [
        ...events.data.map((e) => [
          e.createdAt,
          h("li", {}, h("strong", {}, e.eventType), " → ", status(e.toStatus), h("br"), h("small", {}, when(e.createdAt)), e.data ? h("div", { class: "mono" }, relayOrGateway(e.data)) : null),
        ]),
        ...refunds.data.map((r) => {
          const note = h("p", { class: "error", role: "alert" });
          const sign =
            r.rail === "CHAIN" && r.status === "REQUIRES_ACTION"
              ? h("button", { type: "button", class: "sign", "data-sign": r.refundId, onclick: (e) => signRefund(r.refundId, e.target, note, render) }, "Sign with the recipient's wallet")
              : null;
          return [
            r.createdAt,
            h(
              "li",
              { class: "refund", "data-refund": r.refundId },
              h("strong", {}, `REFUND ${r.amount} ${r.currency}`),
              r.feeReturned ? h("small", {}, ` (fee returned ${r.feeReturned})`) : null,
              " → ",
              status(r.status),
              h("br"),
              h("small", {}, when(r.createdAt)),
              r.failureCode || r.flagReason ? h("div", { class: "mono" }, [r.failureCode, r.failureMessage, r.flagReason].filter(Boolean).join(" · ")) : null,
              sign,
              sign ? note : null,
            ),
          ];
        }),
      ]
        .sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0))
        .map(([, li]) => li),
    );
    box.replaceChildren(
      h("h2", {}, `Payment ${short(p.paymentId)}`),
      h("div", { class: "grid" }, h("section", { class: "card" }, h("h3", {}, "Details"), h("dl", {}, facts.map(([k, v]) => [h("dt", {}, k), h("dd", {}, v)])), cancel, refund), h("section", { class: "card" }, h("h3", {}, "Timeline"), timeline)),
      h("section", { class: "card" }, h("h3", {}, "Webhook deliveries"), h("div", { id: "deliveries" }, "…")),
    );
    deliveries(p.paymentId).then((d) => $("#deliveries")?.replaceChildren(d));
  }
  const onEvent = (ev) => ev.data?.paymentId === id && render();
  listeners.add(onEvent);
  leavePage = () => listeners.delete(onEvent);
  await render();
}

function relayOrGateway(data) {
  return Object.entries(data)
    .filter(([, v]) => v !== null && typeof v !== "object")
    .map(([k, v]) => `${k}: ${v}`)
    .join(" · ");
}

/// The deliveries of this payment's recent events (the last 500 events are searched).
async function deliveries(paymentId) {
  try {
    const ids = new Set();
    let after = Math.max(0, (lastSeq || 0) - 500);
    for (let i = 0; i < 5; i++) {
      const page = await api("GET", `/v1/events?type=payment.*&after=${after}&limit=100`);
      for (const e of page.data) if (e.data?.paymentId === paymentId) ids.add(e.id);
      if (!page.hasMore || !page.data.length) break;
      after = page.data[page.data.length - 1].seq;
    }
    const endpoints = await api("GET", "/v1/webhook-endpoints");
    const rows = [];
    for (const ep of endpoints.data) {
      const d = await api("GET", `/v1/webhook-endpoints/${ep.id}/deliveries?limit=100`);
      for (const x of d.data) if (ids.has(x.eventId)) rows.push([ep.url, x]);
    }
    if (!rows.length) return h("p", {}, "No deliveries of this payment's recent events.");
    return h(
      "div",
      { class: "table-wrap" },
      h("table", {}, h("thead", {}, h("tr", {}, ["Event", "Endpoint", "Status", "Attempts", "Last code"].map((c) => h("th", { scope: "col" }, c)))), h("tbody", {}, rows.map(([url, x]) => h("tr", {}, h("td", {}, x.eventType), h("td", { class: "mono" }, url), h("td", {}, status(x.status)), h("td", {}, x.attemptCount), h("td", {}, x.lastStatusCode ?? "—"))))),
    );
  } catch (e) {
    return h("p", { class: "error" }, e.message);
  }
}

// ---- orders and sagas -----------------------------------------------------------------------------------------
function barChart(counts) {
  const entries = Object.entries(counts);
  const max = Math.max(1, ...entries.map(([, n]) => n));
  const w = 60;
  const chart = svg("svg", { viewBox: `0 0 ${entries.length * w} 160`, role: "img", "aria-label": `Sagas per status: ${entries.map(([s, n]) => `${s} ${n}`).join(", ")}` });
  entries.forEach(([s, n], i) => {
    const bh = Math.round((n / max) * 110);
    chart.append(svg("rect", { class: "bar", x: i * w + 10, y: 125 - bh, width: w - 20, height: bh }), svg("text", { x: i * w + w / 2, y: 120 - bh, "text-anchor": "middle" }, String(n)), svg("text", { x: i * w + w / 2, y: 145, "text-anchor": "middle" }, s.slice(0, 10)));
  });
  return chart;
}

async function ordersPage(view) {
  const stats = await api("GET", "/v1/sagas/stats");
  let filter = "";
  // The /v1 list pages by cursor: the page read, and which way (startingAfter: older, endingBefore: newer).
  let cursor = {};
  let pageNo = 1;
  const list = h("div");
  const steps = h("div", { id: "saga-steps" });
  const select = h("select", { id: "saga-status", onchange: (e) => ((filter = e.target.value), (cursor = {}), (pageNo = 1), load()) }, h("option", { value: "" }, "any"), SAGA_STATUSES.map((s) => h("option", { value: s }, s)));
  view.append(
    h("h2", {}, "Orders and sagas"),
    h("div", { class: "grid" }, h("section", { class: "card" }, h("h3", {}, `Sagas by status (${stats.total})`), barChart(stats.byStatus)), h("section", { class: "card" }, h("h3", {}, "Saga"), steps)),
    h("section", { class: "card" }, h("label", { for: "saga-status" }, "Status"), select, list),
  );
  async function load() {
    const q = new URLSearchParams({ limit: "20", ...cursor });
    if (filter) q.set("status", filter);
    const r = await api("GET", `/v1/sagas?${q}`);
    const back = "endingBefore" in cursor;
    const [first, last] = [r.data[0], r.data[r.data.length - 1]];
    const newer = first && (back ? r.hasMore : pageNo > 1);
    const older = last && (back || r.hasMore);
    const open = (s) => showSaga(s.transactionId);
    list.replaceChildren(
      h("div", { class: "table-wrap" }, h("table", {}, h("thead", {}, h("tr", {}, ["Saga", "Order", "User", "Status", "Step", "Created"].map((c) => h("th", { scope: "col" }, c)))), h("tbody", {}, r.data.map((s) => h("tr", { tabindex: "0", onclick: () => open(s), onkeydown: (e) => e.key === "Enter" && open(s) }, h("td", { class: "mono" }, short(s.transactionId)), h("td", { class: "mono" }, short(s.orderId)), h("td", {}, s.userId), h("td", {}, status(s.status)), h("td", {}, s.currentStep), h("td", {}, when(s.createdAt))))))),
      h("div", { class: "pager" }, h("button", { type: "button", class: "secondary", disabled: !newer, onclick: () => ((cursor = { endingBefore: first.transactionId }), pageNo--, load()) }, "Previous"), h("span", {}, `page ${pageNo}`), h("button", { type: "button", class: "secondary", disabled: !older, onclick: () => ((cursor = { startingAfter: last.transactionId }), pageNo++, load()) }, "Next")),
    );
  }
  async function showSaga(id) {
    const s = await api("GET", `/v1/sagas/${encodeURIComponent(id)}`);
    steps.replaceChildren(h("p", {}, status(s.status), ` ${s.pattern} · order ${short(s.orderId)}`), s.error ? h("p", { class: "error" }, s.error) : null, h("ol", { class: "timeline" }, s.steps.map((st) => h("li", {}, h("strong", {}, st.step), " ", st.outcome, h("br"), h("small", {}, when(st.at))))));
  }
  await load();
}

// ---- health ---------------------------------------------------------------------------------------------------
function parseMetrics(text) {
  let requests = 0;
  const buckets = new Map();
  let outboxAge = null;
  for (const line of text.split("\n")) {
    if (line.startsWith("settle_http_requests_total")) requests += Number(line.slice(line.lastIndexOf(" ") + 1));
    else if (line.startsWith("settle_http_request_duration_seconds_bucket")) {
      const le = /le="([^"]+)"/.exec(line)?.[1];
      buckets.set(le, (buckets.get(le) || 0) + Number(line.slice(line.lastIndexOf(" ") + 1)));
    } else if (line.startsWith("settle_outbox_oldest_unpublished_seconds ")) outboxAge = Number(line.split(" ")[1]);
  }
  return { t: Date.now(), requests, buckets, outboxAge };
}

function lineChart(points, label, unit) {
  const w = 300;
  const hgt = 120;
  const max = Math.max(1e-9, ...points.map((p) => p.v));
  const chart = svg("svg", { viewBox: `0 0 ${w} ${hgt + 20}`, role: "img", "aria-label": `${label}: last ${points.length ? points[points.length - 1].v.toFixed(2) : "—"} ${unit}` });
  chart.append(svg("line", { class: "axis", x1: 0, y1: hgt, x2: w, y2: hgt }));
  if (points.length > 1) {
    const xs = (i) => Math.round((i / (points.length - 1)) * w);
    chart.append(svg("polyline", { class: "line", points: points.map((p, i) => `${xs(i)},${Math.round(hgt - (p.v / max) * (hgt - 10))}`).join(" ") }));
  }
  chart.append(svg("text", { x: 2, y: 12 }, `max ${max.toFixed(2)} ${unit}`), svg("text", { x: 2, y: hgt + 15 }, `${label}, last ${points.length} samples`));
  return chart;
}

async function healthPage(view) {
  const cards = h("div", { class: "grid", id: "health" });
  const charts = h("div", { class: "grid" });
  view.append(h("h2", {}, "Health"), cards, h("h3", {}, "Throughput and latency (this instance)"), charts);
  const samples = [];
  let stopped = false;
  leavePage = () => (stopped = true);
  while (!stopped) {
    try {
      const [health, metricsText] = await Promise.all([fetch("/health").then((r) => r.json()), fetch("/metrics").then((r) => r.text())]);
      const m = parseMetrics(metricsText);
      samples.push(m);
      if (samples.length > 61) samples.shift();
      const card = (title, rows) => h("section", { class: "card" }, h("h3", {}, title), h("dl", {}, rows.map(([k, v]) => [h("dt", {}, k), h("dd", {}, v)])));
      cards.replaceChildren(
        card("Database", [["Status", status(health.database?.status)], ["Latency", `${health.database?.latencyMs ?? "—"} ms`], ["Read-only", health.readOnly || "no"]]),
        card("Cache", [["Status", status(health.cache?.status)]]),
        card("Card gateway", [["Mode", health.gateway?.mode || "—"], ["Circuit", status(health.gateway?.circuit || "—")]]),
        card("Outbox", [["Oldest unpublished", m.outboxAge === null ? "—" : `${m.outboxAge.toFixed(1)} s`]]),
        ...(health.chains || []).map((c) => card(`Chain ${c.chainId}`, [["Status", status(c.status || "—")], ...(c.reason ? [["Reason", c.reason]] : []), ["Head", c.head ?? "—"], ["Watcher lag", `${c.watcherLagBlocks ?? "—"} blocks`], ["Relayer", short(c.relayer)], ["Relayer balance", `${c.relayerBalanceWei ?? "—"} wei`]])),
      );
      const rps = [];
      const p95 = [];
      for (let i = 1; i < samples.length; i++) {
        const a = samples[i - 1];
        const b = samples[i];
        const dt = (b.t - a.t) / 1000;
        const dn = b.requests - a.requests;
        rps.push({ v: dt > 0 ? dn / dt : 0 });
        const les = [...b.buckets.keys()].filter((k) => k !== "+Inf").sort((x, y) => Number(x) - Number(y));
        const want = dn * 0.95;
        const le = les.find((k) => b.buckets.get(k) - (a.buckets.get(k) || 0) >= want && dn > 0);
        p95.push({ v: le ? Number(le) * 1000 : 0 });
      }
      charts.replaceChildren(h("section", { class: "card" }, h("h4", {}, "Requests per second"), lineChart(rps, "requests/s", "/s")), h("section", { class: "card" }, h("h4", {}, "p95 latency"), lineChart(p95, "p95", "ms")));
    } catch (e) {
      cards.replaceChildren(h("p", { class: "error", role: "alert" }, e.message));
    }
    await sleep(5000);
  }
}

// ---- routing --------------------------------------------------------------------------------------------------
async function route() {
  leavePage();
  leavePage = () => {};
  const view = $("#view");
  view.replaceChildren();
  const signedIn = Boolean(apiKey);
  $("#signin").hidden = signedIn;
  $("#nav").hidden = !signedIn;
  if (!signedIn) {
    showMode();
    $("#key").focus();
    return;
  }
  showMode().catch(() => {});
  const hash = location.hash || "#/payments";
  for (const a of document.querySelectorAll("nav a")) a.toggleAttribute("aria-current", hash.startsWith(a.getAttribute("href")));
  for (const a of document.querySelectorAll("nav a[aria-current]")) a.setAttribute("aria-current", "page");
  try {
    const m = /^#\/payments\/(.+)$/.exec(hash);
    if (m) await paymentPage(view, decodeURIComponent(m[1]));
    else if (hash.startsWith("#/orders")) await ordersPage(view);
    else if (hash.startsWith("#/health")) await healthPage(view);
    else await paymentsPage(view);
  } catch (e) {
    if (e.message !== "unauthorized") view.append(h("p", { class: "error", role: "alert" }, e.message));
  }
}

$("#signin").addEventListener("submit", signIn);
$("#signout").addEventListener("click", () => signOut());
window.addEventListener("hashchange", route);
if (apiKey) stream();
route();
