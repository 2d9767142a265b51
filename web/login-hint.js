"use strict";
(() => {
  const form = document.getElementById("login-hint-form");
  const out = document.getElementById("made");
  Signet.wireShowSecret();
  Signet.wireMadeCopy();

  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    const v = (id) => document.getElementById(id).value;
    await Signet.make(form, out, "/api/login-hint", {
      env: v("env"),
      region: v("region"),
      client_id: v("client_id"),
      secret: v("secret"),
      user: v("user"),
      alg: v("alg"),
      expires_in: v("expires_in"),
    });
  });
})();
