// Settle's hosted checkout: the payer's side of one payment, opened by its checkout session (the id in this page's
// URL is the payer's key to that payment and nothing else). CHAIN: an EIP-1193 wallet (window.ethereum) signs the
// token's permit and the forward request, Settle relays them and pays the gas. CARD: the card goes to Settle, never
// to the merchant's server. The payment's status is read live; once COMPLETED the payer goes back to the merchant
// with a signed URL. No framework, no build step, nothing loaded from elsewhere.

import qrcode from "./qrcode.mjs";

const TEXT = {
  en: {
    pay: "Pay", payWallet: "Pay with your wallet", payCard: "Pay by card", cancel: "Cancel and go back", to: "to",
    expiresIn: "Terms expire in", expired: "This checkout has expired: nothing was paid. Go back to the shop to start again.",
    paid: "Paid. Taking you back to the shop…", back: "Back to the shop", processing: "Payment sent: waiting for confirmation…",
    failed: "The payment failed: nothing was charged.", cancelled: "This payment was cancelled.",
    noWallet: "No wallet found in this browser. Open this page in your wallet app's browser, or install a wallet.",
    rejected: "You rejected the request in your wallet. Nothing was paid; you can try again.",
    wrongChain: (id) => `Switch your wallet to chain ${id} to pay, then try again.`,
    balance: (have, need) => `Your balance (${have}) is less than the amount (${need}). Add funds, then try again.`,
    signPermit: "Sign the token permit in your wallet (no gas)…", signRequest: "Sign the payment in your wallet (no gas)…",
    cardType: "Card", cardNo: "Card number", cardBad: "Check the card number: 16 digits, as xxxx-xxxx-xxxx-xxxx.",
    declined: "The card was declined: nothing was charged. Go back to the shop to pay again.", busy: "Payments are briefly unavailable. Nothing was charged; try again in a moment.",
    unreachable: "Settle could not be reached. Check your connection; nothing was charged twice.", retry: "Try again",
    notFound: "This checkout link is not valid.", gasless: "You pay no network fee: Settle sends the transaction.",
    confirmations: (n, of) => `Confirmations: ${n} of ${of}`,
    addChain: (id) => `Your wallet does not know chain ${id}: add it to your wallet, then try again.`,
    chooseWallet: "Choose the wallet to pay with:", onPhone: "Pay on your phone", qrAlt: "QR code of this page",
    qrHint: "Scan it with your phone's camera or wallet to open this page there.",
  },
  ko: {
    pay: "결제", payWallet: "지갑으로 결제", payCard: "카드로 결제", cancel: "취소하고 돌아가기", to: "받는 곳",
    expiresIn: "결제 가능 시간", expired: "결제 시간이 지났습니다. 결제되지 않았습니다. 상점에서 다시 시작해 주세요.",
    paid: "결제되었습니다. 상점으로 돌아갑니다…", back: "상점으로 돌아가기", processing: "결제를 보냈습니다. 확인을 기다리는 중…",
    failed: "결제에 실패했습니다. 청구되지 않았습니다.", cancelled: "취소된 결제입니다.",
    noWallet: "이 브라우저에 지갑이 없습니다. 지갑 앱의 브라우저에서 이 페이지를 열거나 지갑을 설치해 주세요.",
    rejected: "지갑에서 요청을 거절했습니다. 결제되지 않았으며 다시 시도할 수 있습니다.",
    wrongChain: (id) => `지갑을 체인 ${id}(으)로 바꾼 뒤 다시 시도해 주세요.`,
    balance: (have, need) => `잔액(${have})이 결제 금액(${need})보다 적습니다. 충전한 뒤 다시 시도해 주세요.`,
    signPermit: "지갑에서 토큰 허가에 서명해 주세요 (가스비 없음)…", signRequest: "지갑에서 결제에 서명해 주세요 (가스비 없음)…",
    cardType: "카드사", cardNo: "카드 번호", cardBad: "카드 번호를 확인해 주세요: xxxx-xxxx-xxxx-xxxx 형식의 16자리.",
    declined: "카드가 거절되었습니다. 청구되지 않았습니다. 상점으로 돌아가 다시 결제해 주세요.", busy: "잠시 결제할 수 없습니다. 청구되지 않았습니다. 잠시 후 다시 시도해 주세요.",
    unreachable: "Settle에 연결할 수 없습니다. 연결을 확인해 주세요. 두 번 청구되지 않습니다.", retry: "다시 시도",
    notFound: "올바르지 않은 결제 링크입니다.", gasless: "네트워크 수수료가 없습니다. Settle이 거래를 보냅니다.",
    confirmations: (n, of) => `블록 확인: ${of}회 중 ${n}회`,
    addChain: (id) => `지갑에 체인 ${id}이(가) 없습니다. 지갑에 추가한 뒤 다시 시도해 주세요.`,
    chooseWallet: "결제할 지갑을 선택해 주세요:", onPhone: "휴대폰으로 결제", qrAlt: "이 페이지의 QR 코드",
    qrHint: "휴대폰 카메라나 지갑으로 스캔하면 이 페이지가 열립니다.",
  },
};
const CARD_TYPES = ["SAMSUNG", "KB", "HYUNDAI"];
const sessionId = location.pathname.split("/").filter(Boolean).pop();
// Opened by a merchant page's Settle.checkout (/v1/checkout.js): a popup or an overlay iframe. The outcome is told to
// that page (postMessage) instead of a redirect, and only to its origin as Settle checked it (view.embedOrigin).
const query = new URLSearchParams(location.search);
const embed = ["popup", "overlay"].includes(query.get("embed")) ? query.get("embed") : null;
const askedOrigin = embed ? query.get("origin") : null;
let t = TEXT[navigator.language?.toLowerCase().startsWith("ko") ? "ko" : "en"];
let view = null;
let polling = false;
let reloadedAtZero = false;

const $ = (sel) => document.querySelector(sel);
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

class ApiError extends Error {
  constructor(status, body) {
    super(body?.error?.message || `${status}`);
    this.status = status;
    this.code = body?.error?.code;
  }
}

// Settle's API, as the payer: the session id is the bearer of the payment's routes.
async function api(method, path, body) {
  let res;
  try {
    const headers = { authorization: `Bearer ${sessionId}` };
    if (body !== undefined) {
      headers["content-type"] = "application/json";
      // One key per attempt: the button is disabled while one is under way, and a retry is a new attempt.
      const b = new Uint8Array(16);
      crypto.getRandomValues(b);
      headers["idempotency-key"] = Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
    }
    res = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  } catch {
    throw new ApiError(0, { error: { message: t.unreachable } });
  }
  const json = await res.json().catch(() => null);
  if (!res.ok) throw new ApiError(res.status, json);
  return json;
}

// Minor units shown with the token's decimals (exact: digits, never floats).
function formatAmount(amount, decimals, currency) {
  const d = decimals || 0;
  if (!d) return `${amount} ${currency}`;
  const padded = amount.padStart(d + 1, "0");
  const whole = padded.slice(0, -d);
  const frac = padded.slice(-d).replace(/0+$/, "");
  return `${whole}${frac ? `.${frac}` : ""} ${currency}`;
}

function note(text) {
  $("#note").textContent = text || "";
}
function fail(text) {
  $("#error").textContent = text || "";
}

function timeLeft() {
  const el = $("#left");
  if (!el || !view) return;
  const s = Math.max(0, Math.floor((Date.parse(view.expiresAt) - Date.now()) / 1000));
  const two = (n) => String(n).padStart(2, "0");
  const clock = s >= 3600 ? `${Math.floor(s / 3600)}:${two(Math.floor(s / 60) % 60)}:${two(s % 60)}` : `${Math.floor(s / 60)}:${two(s % 60)}`;
  el.textContent = `${t.expiresIn} ${clock}`;
  // Once at zero (a browser clock ahead of Settle's must not reload the page every second): Settle says whether it expired.
  if (s === 0 && view.status === "PENDING" && !reloadedAtZero) {
    reloadedAtZero = true;
    load();
  }
}

async function load() {
  try {
    const origin = askedOrigin ? `?origin=${encodeURIComponent(askedOrigin)}` : "";
    view = await api("GET", `/v1/checkout/${encodeURIComponent(sessionId)}${origin}`);
  } catch (e) {
    $("#checkout").replaceChildren(h("div", { class: "card" }, h("p", { class: "error", role: "alert" }, e.status === 404 ? t.notFound : e.message)));
    return;
  }
  if (view.locale && TEXT[view.locale]) t = TEXT[view.locale];
  document.documentElement.lang = view.locale || (t === TEXT.ko ? "ko" : "en");
  render();
}

function render() {
  const amount = formatAmount(view.amount, view.decimals, view.currency);
  const actions = h("div", { id: "actions" });
  $("#checkout").replaceChildren(
    h(
      "div",
      { class: "card" },
      h("h1", { id: "merchant" }, view.merchantName),
      h("p", { class: "amount", id: "amount" }, amount),
      h("p", {}, h("span", { class: `status s-${view.status}`, id: "status" }, view.status)),
      view.status === "PENDING" && !view.expired ? h("p", { class: "muted", id: "left" }) : null,
      view.rail === "CHAIN" ? h("p", { class: "muted", id: "confirmations", "aria-live": "polite" }) : null,
      actions,
      h("p", { class: "note", id: "note", role: "status" }),
      h("p", { class: "error", id: "error", role: "alert" }),
    ),
    h("footer", {}, h("a", { href: view.cancelUrl, id: "cancel", onclick: cancel }, t.cancel)),
  );
  timeLeft();
  if (view.status === "COMPLETED") return goBack();
  if (view.expired) return fail(t.expired);
  if (view.status === "FAILED") return fail(t.failed);
  if (view.status === "CANCELLED" || view.status === "CANCELLING") return fail(t.cancelled);
  if (view.status === "EXPIRED") return fail(t.expired);
  if (view.status === "PROCESSING") {
    note(t.processing);
    return follow();
  }
  // Followed while PENDING too: the payer may pay from another device (the QR code).
  follow();
  if (view.rail === "CHAIN") {
    actions.append(
      h("p", { class: "muted" }, t.gasless),
      h("button", { type: "button", id: "pay", onclick: () => payWithWallet() }, t.payWallet),
      h("div", { id: "wallets" }),
      h(
        "details",
        { id: "phone" },
        h("summary", {}, t.onPhone),
        h("img", { class: "qr", id: "qr", alt: t.qrAlt, src: qrOf(`${location.origin}/checkout/${sessionId}`) }),
        h("p", { class: "muted" }, t.qrHint),
      ),
    );
  } else {
    actions.append(cardForm());
  }
}

// The merchant page that embeds this checkout, if any (and if Settle let it: its origin is on redirectHosts).
function embedder() {
  if (!embed || !view?.embedOrigin) return null;
  const target = embed === "popup" ? window.opener : window.parent !== window ? window.parent : null;
  return target ? { target, origin: view.embedOrigin } : null;
}

function tell(message) {
  const to = embedder();
  if (!to) return false;
  to.target.postMessage({ type: "settle:checkout", sessionId, ...message }, to.origin);
  return true;
}

function cancel(e) {
  if (tell({ status: "cancelled" })) e.preventDefault();
}

// Embedded: Escape closes the popup or the overlay (the merchant page does not see keys pressed in this frame).
document.addEventListener("keydown", (e) => {
  if (e.key === "Escape") tell({ status: "closed" });
});

// Once paid: the signed way back to the merchant (told to the embedding page, or followed).
async function goBack() {
  note(t.paid);
  try {
    const { url } = await api("GET", `/v1/checkout/${encodeURIComponent(sessionId)}/return`);
    $("#actions").replaceChildren(h("a", { class: "button", href: url, id: "back" }, t.back));
    if (tell({ status: "completed", paymentId: view.paymentId, returnUrl: url })) return;
    setTimeout(() => location.assign(url), 1500);
  } catch (e) {
    fail(e.message);
  }
}

// The payment's status, followed until it is final: its stream (GET /v1/payments/{id}/stream, read with fetch
// because EventSource sends no Authorization header), or, while the stream is unavailable, a read every second.
async function follow() {
  if (polling) return;
  polling = true;
  try {
    for (;;) {
      if (await streamUpdates().catch(() => false)) return;
      await new Promise((r) => setTimeout(r, 1000));
      try {
        if (show(await api("GET", `/v1/payments/${encodeURIComponent(view.paymentId)}`))) return;
      } catch (e) {
        note(e.message);
      }
    }
  } finally {
    polling = false;
  }
}

// Reads the payment's stream until the payment is final (true) or the stream ends early (false).
async function streamUpdates() {
  const res = await fetch(`/v1/payments/${encodeURIComponent(view.paymentId)}/stream`, { headers: { authorization: `Bearer ${sessionId}` } });
  if (!res.ok || !res.body) return false;
  const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
  let buf = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return false;
    buf += value.replace(/\r\n?/g, "\n");
    let end;
    while ((end = buf.indexOf("\n\n")) >= 0) {
      const block = buf.slice(0, end);
      buf = buf.slice(end + 2);
      const data = block.split("\n").filter((l) => l.startsWith("data:")).map((l) => l.slice(5).replace(/^ /, "")).join("\n");
      if (!data) continue;
      const u = JSON.parse(data);
      if (show(u.payment, u)) {
        reader.cancel().catch(() => {});
        return true;
      }
    }
  }
}

// Shows the payment as read; true once it is final (and what follows is done).
function show(p, u = {}) {
  if (p.status !== view.status) {
    view.status = p.status;
    $("#status").textContent = p.status;
    $("#status").className = `status s-${p.status}`;
    if (p.status !== "PENDING") $("#left")?.remove();
    if (p.status === "PROCESSING") note(t.processing);
  }
  const conf = $("#confirmations");
  if (conf && u.confirmations !== undefined && u.confirmationsRequired) {
    conf.textContent = t.confirmations(u.confirmations, u.confirmationsRequired);
  }
  if (p.status === "COMPLETED") {
    goBack();
    return true;
  }
  if (p.status === "FAILED" || p.status === "EXPIRED" || p.status === "CANCELLED") {
    note("");
    $("#actions").replaceChildren();
    // A decline already said why.
    if (!$("#error").textContent) fail(p.status === "FAILED" ? t.failed : p.status === "EXPIRED" ? t.expired : t.cancelled);
    return true;
  }
  return false;
}

// The QR code of a URL, drawn here (the vendored qrcode-generator): a GIF data URL.
function qrOf(url) {
  const qr = qrcode(0, "M");
  qr.addData(url);
  qr.make();
  return qr.createDataURL(4, 4);
}

// ---- CHAIN: an EIP-1193 wallet ----------------------------------------------------------------------------
// EIP-6963: every wallet in the page announces itself (asked once at start; a wallet loaded later announces
// itself unasked); window.ethereum is the fallback when none does. Several: the payer chooses.
const announced = [];
window.addEventListener("eip6963:announceProvider", (e) => {
  const d = e.detail;
  if (d?.info?.uuid && typeof d.provider?.request === "function" && !announced.some((a) => a.info.uuid === d.info.uuid)) announced.push(d);
});
window.dispatchEvent(new Event("eip6963:requestProvider"));
let chosen = null;

function pickWallet() {
  if (chosen) return chosen;
  if (announced.length === 1) return announced[0].provider;
  return announced.length ? null : window.ethereum || null;
}

function chooseWallet() {
  const list = $("#wallets");
  list.replaceChildren(
    h("p", {}, t.chooseWallet),
    ...announced.map((w) =>
      h(
        "button",
        { type: "button", class: "secondary wallet", "data-wallet": w.info.name, onclick: () => ((chosen = w.provider), list.replaceChildren(), payWithWallet()) },
        /^data:image\/(png|svg\+xml|webp|gif);/.test(w.info.icon || "") ? h("img", { src: w.info.icon, alt: "", width: "20", height: "20" }) : null,
        ` ${w.info.name}`,
      ),
    ),
  );
  list.querySelector("button")?.focus();
}

// The wallet's error code: EIP-1193's, or one a wallet nests (4902 in MetaMask's data.originalError).
const codeOf = (e) => e?.code ?? e?.data?.originalError?.code;

async function ensureChain(wallet) {
  const want = `0x${Number(view.chainId).toString(16)}`;
  const have = await wallet.request({ method: "eth_chainId" });
  if (String(have).toLowerCase() === want) return;
  try {
    await wallet.request({ method: "wallet_switchEthereumChain", params: [{ chainId: want }] });
  } catch (e) {
    if (codeOf(e) === 4001) throw e;
    if (codeOf(e) !== 4902) throw new Error(t.wrongChain(view.chainId));
    // The wallet lacks the chain: added with the public RPC Settle was given (adding switches to it).
    if (!view.addChain) throw new Error(t.addChain(view.chainId));
    await wallet.request({ method: "wallet_addEthereumChain", params: [view.addChain] });
    const added = await wallet.request({ method: "eth_chainId" });
    if (String(added).toLowerCase() !== want) await wallet.request({ method: "wallet_switchEthereumChain", params: [{ chainId: want }] });
  }
  const now = await wallet.request({ method: "eth_chainId" });
  if (String(now).toLowerCase() !== want) throw new Error(t.wrongChain(view.chainId));
}

async function balanceOf(wallet, owner) {
  const data = `0x70a08231${owner.slice(2).toLowerCase().padStart(64, "0")}`;
  const out = await wallet.request({ method: "eth_call", params: [{ to: view.tokenAddress, data }, "latest"] });
  return BigInt(out && out !== "0x" ? out : "0x0");
}

async function payWithWallet() {
  const button = $("#pay");
  fail("");
  const wallet = pickWallet();
  if (!wallet && announced.length > 1) return chooseWallet();
  if (!wallet) return fail(t.noWallet);
  button.disabled = true;
  try {
    const [payer] = await wallet.request({ method: "eth_requestAccounts" });
    await ensureChain(wallet);
    const have = await balanceOf(wallet, payer);
    if (have < BigInt(view.amount)) {
      throw new Error(t.balance(formatAmount(have.toString(), view.decimals, view.currency), formatAmount(view.amount, view.decimals, view.currency)));
    }
    const sign = (typed) => wallet.request({ method: "eth_signTypedData_v4", params: [payer, JSON.stringify(typed)] });
    const base = `/v1/payments/${encodeURIComponent(view.paymentId)}/typed-data?payer=${payer}`;
    let td = await api("GET", base);
    if (td.permit) {
      note(t.signPermit);
      const permitSignature = await sign(td.permit);
      td = await api("GET", `${base}&permitSignature=${permitSignature}&permitDeadline=${td.permit.message.deadline}`);
    }
    note(t.signRequest);
    const signature = await sign(td.forwardRequest);
    await api("POST", `/v1/payments/${encodeURIComponent(view.paymentId)}/gasless`, { request: td.request, signature });
    note(t.processing);
    button.remove();
    follow();
  } catch (e) {
    note("");
    button.disabled = false;
    button.textContent = t.retry;
    if (e?.code === 4001) return fail(t.rejected);
    if (e?.code === "invalid_state") return load();
    fail(e?.message || String(e));
  }
}

// ---- CARD: the card goes to Settle ------------------------------------------------------------------------
function luhn(digits) {
  let sum = 0;
  for (let i = 0; i < digits.length; i++) {
    let d = Number(digits[digits.length - 1 - i]);
    if (i % 2 === 1) {
      d *= 2;
      if (d > 9) d -= 9;
    }
    sum += d;
  }
  return sum % 10 === 0;
}

function cardForm() {
  return h(
    "form",
    { id: "card-form", onsubmit: payByCard, novalidate: true },
    h("label", { for: "card-type" }, t.cardType),
    h("select", { id: "card-type" }, CARD_TYPES.map((c) => h("option", { value: c }, c))),
    h("label", { for: "card-no" }, t.cardNo),
    h("input", { id: "card-no", inputmode: "numeric", autocomplete: "cc-number", placeholder: "xxxx-xxxx-xxxx-xxxx", maxlength: "19", required: true }),
    h("button", { type: "submit", id: "pay" }, t.payCard),
  );
}

async function payByCard(e) {
  e.preventDefault();
  fail("");
  const raw = $("#card-no").value.replace(/[\s-]/g, "");
  if (!/^\d{16}$/.test(raw) || !luhn(raw)) return fail(t.cardBad);
  const cardNo = raw.match(/.{4}/g).join("-");
  const button = $("#pay");
  button.disabled = true;
  try {
    await api("POST", `/v1/payments/${encodeURIComponent(view.paymentId)}/card`, { cardType: $("#card-type").value, cardNo });
    $("#card-form").remove();
    note(t.processing);
    follow();
  } catch (err) {
    button.disabled = false;
    button.textContent = t.retry;
    if (err.status === 402) {
      button.remove();
      return fail(t.declined);
    }
    if (err.status === 503 || err.status === 0) return fail(err.status === 0 ? t.unreachable : t.busy);
    if (err.code === "invalid_state") return load();
    fail(err.message);
  }
}

load();
setInterval(timeLeft, 1000);
