"use strict";
(() => {
  const form = document.getElementById("request-object-form");
  const out = document.getElementById("made");
  Signet.wireShowSecret();
  Signet.wireChoice(form, "signing");
  Signet.wireMadeCopy();

  const noun = { variables: "Variable", client_context: "Context entry" };

  // Renumbers a list's labels after a row is added or removed.
  function relabel(name) {
    const rows = document.getElementById(name + "-rows").querySelectorAll(".row");
    rows.forEach((row, i) => {
      const n = noun[name] + " " + (i + 1);
      row.querySelector(".k-label").textContent = n + " name";
      row.querySelector(".v-label").textContent = n + " value";
      row.querySelector("button").setAttribute("aria-label", "Remove " + n.toLowerCase());
    });
  }

  let uid = 0;
  function addRow(name, key, value) {
    const list = document.getElementById(name + "-rows");
    const id = name + "-" + (++uid);
    const k = Signet.el("input", { type: "text", id: id + "-k", class: "k", spellcheck: "false", autocomplete: "off" });
    const v = Signet.el("input", { type: "text", id: id + "-v", class: "v", spellcheck: "false", autocomplete: "off" });
    k.value = key || "";
    v.value = value || "";
    const remove = Signet.el("button", { type: "button", class: "secondary small" }, "Remove");
    const row = Signet.el("div", { class: "row" },
      Signet.el("div", { class: "field" }, Signet.el("label", { for: k.id, class: "k-label" }), k),
      Signet.el("div", { class: "field" }, Signet.el("label", { for: v.id, class: "v-label" }), v),
      remove);
    remove.addEventListener("click", () => {
      row.remove();
      relabel(name);
      document.getElementById("add-" + name).focus();
    });
    list.append(row);
    relabel(name);
    return k;
  }

  for (const name of ["variables", "client_context"]) {
    document.getElementById("add-" + name).addEventListener("click", () => addRow(name).focus());
  }

  function rows(name) {
    return [...document.getElementById(name + "-rows").querySelectorAll(".row")]
      .map((row) => [row.querySelector(".k").value, row.querySelector(".v").value]);
  }

  function clearRows(name) {
    document.getElementById(name + "-rows").replaceChildren();
  }

  // The transaction approval of PingOne's documentation.
  document.getElementById("example").addEventListener("click", () => {
    document.getElementById("template").value = "transaction";
    clearRows("variables");
    addRow("variables", "sum", "1,000,000");
    addRow("variables", "currency", "USD");
    addRow("variables", "recipient", "Charlie Parker");
    clearRows("client_context");
    addRow("client_context", "alert.color", "red");
    document.getElementById("env").focus();
  });

  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    const v = (id) => document.getElementById(id).value;
    const signing = form.querySelector('input[name="signing"]:checked').value;
    const body = {
      env: v("env"),
      region: v("region"),
      client_id: v("client_id"),
      signing,
      template: v("template"),
      variant: v("variant"),
      variables: rows("variables"),
      client_context: rows("client_context"),
      remote_ip: v("remote_ip"),
      sub: v("sub"),
      expires_in: v("expires_in"),
    };
    if (signing === "secret") body.secret = v("secret");
    if (signing === "key") body.key = v("key");
    if (signing !== "unsigned") body.alg = v("alg");
    await Signet.make(form, out, "/api/request-object", body);
  });
})();
