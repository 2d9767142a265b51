"use strict";
(() => {
  const decodeForm = document.getElementById("decode-form");
  const verifyForm = document.getElementById("verify-form");
  const token = document.getElementById("token");
  const out = document.getElementById("decoded");
  let seq = 0;

  function clearVerdict() {
    for (const id of ["signature-status", "claims-status"]) {
      const p = document.getElementById(id);
      p.textContent = "";
      p.className = "status";
    }
    document.getElementById("verify-warnings").replaceChildren();
  }

  async function decode() {
    const mine = ++seq;
    clearVerdict();
    if (!token.value.trim()) {
      Signet.clearErrors(decodeForm);
      out.hidden = true;
      return;
    }
    const r = await Signet.api("/api/decode", { token: token.value });
    if (mine !== seq) return; // a newer keystroke won
    if (!r.ok) {
      out.hidden = true;
      // While typing, show the message without moving the focus away from the token.
      Signet.clearErrors(decodeForm);
      document.getElementById("err-token").textContent = r.error.message;
      token.setAttribute("aria-invalid", "true");
      return;
    }
    Signet.clearErrors(decodeForm);
    const d = r.data;
    const s = d.segments;
    Signet.coloured(document.getElementById("encoded"), s.header + "." + s.payload + "." + s.signature);
    Signet.members(document.getElementById("header-members"), d.header, null, d.header_notes);
    const payloadList = document.getElementById("payload-members");
    const payloadText = document.getElementById("payload-text");
    if (d.payload) {
      Signet.members(payloadList, d.payload, d.dates || {});
      payloadList.hidden = false;
      payloadText.hidden = true;
    } else {
      payloadList.hidden = true;
      payloadText.hidden = false;
      payloadText.textContent = d.payload_text !== undefined
        ? "Not a JSON object; the payload as text:\n" + d.payload_text
        : "Binary payload, base64url:\n" + d.payload_b64;
    }
    document.getElementById("signature-b64").textContent = d.signature || "(empty)";
    document.getElementById("signature-size").textContent = d.signature_bytes + " bytes";
    out.hidden = false;
  }

  let timer = null;
  token.addEventListener("input", () => {
    clearTimeout(timer);
    timer = setTimeout(decode, 150);
  });
  decodeForm.addEventListener("submit", (e) => {
    e.preventDefault();
    clearTimeout(timer);
    decode();
  });

  const secret = document.getElementById("secret");
  Signet.wireShowSecret();
  Signet.wireChoice(verifyForm, "method");

  verifyForm.addEventListener("submit", async (e) => {
    e.preventDefault();
    Signet.clearErrors(verifyForm);
    clearVerdict();
    const method = verifyForm.querySelector('input[name="method"]:checked').value;
    const body = { token: token.value, method, aud: document.getElementById("aud").value };
    if (method === "secret") body.secret = secret.value;
    if (method === "key") body.key = document.getElementById("key").value;
    if (method === "jwks_url") body.jwks_url = document.getElementById("jwks_url").value;
    const pending = document.getElementById("signature-status");
    pending.textContent = method === "jwks_url" ? "Fetching the JWK Set and verifying…" : "Verifying…";
    const r = await Signet.api("/api/verify", body);
    pending.textContent = "";
    if (!r.ok) {
      Signet.showError(r.error.field === "token" ? decodeForm : verifyForm, r.error);
      return;
    }
    const v = r.data;
    const sig = document.getElementById("signature-status");
    if (v.signature.valid) {
      sig.className = "status ok";
      sig.textContent = "Signature verified (" + v.signature.alg + (v.signature.kid ? ", kid " + v.signature.kid : "") + ")";
    } else {
      sig.className = "status bad";
      sig.textContent = "Signature invalid: " + v.signature.message;
    }
    const claims = document.getElementById("claims-status");
    if (v.claims) {
      claims.className = v.claims.valid ? "status ok" : "status bad";
      claims.textContent = v.claims.valid ? "Claims valid: " + v.claims.message : "Claims invalid: " + v.claims.message;
    }
    const w = document.getElementById("verify-warnings");
    w.replaceChildren(...(v.warnings || []).map((m) => Signet.el("li", {}, "Warning: " + m)));
  });

  if (token.value.trim()) decode();
})();
