// Settle's embeddable checkout button: a merchant page loads this script from its Settle
// (<script src="https://settle.example/v1/checkout.js"></script>) and calls
//
//   const result = await Settle.checkout(sessionId);                     // a popup
//   const result = await Settle.checkout(sessionId, { mode: "overlay" }); // an iframe over the page
//
// with the id of a checkout session its server made (POST /v1/checkout-sessions). The payer pays on Settle's page;
// the promise resolves with { status: "completed", sessionId, paymentId, returnUrl } (returnUrl is the signed
// successUrl the page would have sent the payer to), { status: "cancelled", sessionId } or
// { status: "closed", sessionId } (the payer closed the popup or the overlay: its close button, a click beside it,
// or Escape). It rejects when the popup is blocked.
// Only messages from this script's Settle origin and from the window it opened are heard; Settle's page tells its
// outcome only to this page's origin, and only when that origin is on the merchant's redirectHosts. Fulfil orders on
// the webhook: the promise is the payer's view, and a closed tab loses it.
(() => {
  const script = document.currentScript;
  const settle = new URL(script ? script.src : location.href).origin;

  function checkout(sessionId, options = {}) {
    if (typeof sessionId !== "string" || !/^cs_[0-9a-f]{32}$/.test(sessionId)) {
      return Promise.reject(new TypeError("Settle.checkout: sessionId must be a checkout session's id (cs_ and 32 hex digits)"));
    }
    const mode = options.mode === "overlay" ? "overlay" : "popup";
    const url = `${settle}/checkout/${sessionId}?embed=${mode}&origin=${encodeURIComponent(location.origin)}`;
    return new Promise((resolve, reject) => {
      let win = null;
      let overlay = null;
      let timer = null;
      const before = document.activeElement;
      const done = (result) => {
        window.removeEventListener("message", onMessage);
        document.removeEventListener("keydown", onKey, true);
        clearInterval(timer);
        if (overlay) overlay.remove();
        if (win && !win.closed) win.close();
        if (before && before.focus) before.focus();
        resolve(result);
      };
      const onMessage = (e) => {
        const from = overlay ? overlay.querySelector("iframe").contentWindow : win;
        if (e.origin !== settle || !from || e.source !== from) return;
        const d = e.data;
        if (!d || d.type !== "settle:checkout" || d.sessionId !== sessionId) return;
        if (d.status === "completed") done({ status: "completed", sessionId, paymentId: d.paymentId, returnUrl: d.returnUrl });
        else if (d.status === "cancelled") done({ status: "cancelled", sessionId });
        else if (d.status === "closed") done({ status: "closed", sessionId });
      };
      const onKey = (e) => {
        if (e.key === "Escape") done({ status: "closed", sessionId });
      };
      window.addEventListener("message", onMessage);
      if (mode === "popup") {
        win = window.open(url, `settle-${sessionId}`, "popup,width=480,height=760");
        if (!win) {
          window.removeEventListener("message", onMessage);
          reject(new Error("Settle.checkout: the popup was blocked; call it from a click, or use { mode: \"overlay\" }"));
          return;
        }
        timer = setInterval(() => win.closed && done({ status: "closed", sessionId }), 400);
        return;
      }
      overlay = document.createElement("div");
      overlay.setAttribute("role", "dialog");
      overlay.setAttribute("aria-modal", "true");
      overlay.setAttribute("aria-label", "Checkout");
      Object.assign(overlay.style, {
        position: "fixed", inset: "0", zIndex: "2147483647", background: "rgba(15, 20, 25, 0.55)",
        display: "flex", alignItems: "center", justifyContent: "center",
      });
      // Closing never depends on the frame (which may be refused: an origin not on the merchant's redirectHosts).
      const close = document.createElement("button");
      close.type = "button";
      close.textContent = "\u00d7";
      close.setAttribute("aria-label", "Close the checkout");
      Object.assign(close.style, {
        position: "absolute", top: "12px", right: "12px", width: "40px", height: "40px", border: "0", borderRadius: "20px",
        background: "#ffffff", color: "#1b1f24", font: "24px/40px system-ui, sans-serif", cursor: "pointer",
      });
      close.addEventListener("click", () => done({ status: "closed", sessionId }));
      overlay.addEventListener("click", (e) => e.target === overlay && done({ status: "closed", sessionId }));
      overlay.append(close);
      const frame = document.createElement("iframe");
      frame.src = url;
      frame.title = "Checkout";
      frame.allow = "clipboard-write";
      Object.assign(frame.style, { width: "min(480px, 100vw)", height: "min(760px, 100vh)", border: "0", borderRadius: "12px", background: "#f4f5f7" });
      overlay.append(frame);
      document.body.append(overlay);
      document.addEventListener("keydown", onKey, true);
      frame.focus();
    });
  }

  window.Settle = Object.assign(window.Settle || {}, { checkout });
})();
