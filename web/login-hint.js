"use strict";
(() => {
  const form = document.getElementById("login-hint-form");
  const out = document.getElementById("made");
  const secret = document.getElementById("secret");
  document.getElementById("show-secret").addEventListener("change", (e) => {
    secret.type = e.target.checked ? "text" : "password";
  });
  Signet.wireCopy(document.getElementById("copy-token"), () => document.getElementById("made-token").textContent);
  Signet.wireCopy(document.getElementById("copy-command"), () => document.getElementById("command").textContent);

  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    const v = (id) => document.getElementById(id).value;
    const r = await Signet.api("/api/login-hint", {
      env: v("env"),
      region: v("region"),
      client_id: v("client_id"),
      secret: v("secret"),
      user: v("user"),
      alg: v("alg"),
      expires_in: v("expires_in"),
    });
    if (!r.ok) {
      out.hidden = true;
      Signet.showError(form, r.error);
      return;
    }
    Signet.clearErrors(form);
    Signet.showMade(out, r.data);
  });
})();
