// Shared by the Signet browser tools: calling the local JSON API, showing errors beside the
// fields they are about, and rendering tokens. Every rule is checked by the server (the same
// code as the `signet` CLI); the pages only display its answers.
"use strict";

const Signet = (() => {
  async function api(path, body) {
    let resp;
    try {
      resp = await fetch(path, {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify(body),
      });
    } catch (e) {
      return { ok: false, error: { message: "cannot reach the signet server: " + e.message } };
    }
    let data;
    try {
      data = await resp.json();
    } catch (e) {
      return { ok: false, error: { message: "the server answered HTTP " + resp.status + " without JSON" } };
    }
    if (!resp.ok) {
      return { ok: false, error: (data && data.error) || { message: "HTTP " + resp.status } };
    }
    return { ok: true, data };
  }

  function clearErrors(form) {
    for (const el of form.querySelectorAll(".field-error, .form-error")) el.textContent = "";
    for (const el of form.querySelectorAll("[aria-invalid]")) el.removeAttribute("aria-invalid");
  }

  // Shows an API error beside its field (error.field names it), else in the form's error box.
  function showError(form, error) {
    clearErrors(form);
    const field = error.field ? form.querySelector('[data-field="' + error.field + '"]') : null;
    const slot = error.field ? form.querySelector("#err-" + error.field) : null;
    if (field && slot && !field.closest("[hidden]")) {
      slot.textContent = error.message;
      field.setAttribute("aria-invalid", "true");
      field.focus();
    } else {
      const box = form.querySelector(".form-error");
      box.textContent = error.message;
      box.focus();
    }
  }

  function el(tag, attrs, ...children) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (k === "class") e.className = v;
      else e.setAttribute(k, v);
    }
    for (const c of children) {
      if (c === null || c === undefined) continue;
      e.append(c instanceof Node ? c : String(c));
    }
    return e;
  }

  // The token with its three segments coloured: header, payload, signature.
  function coloured(target, token) {
    const parts = token.split(".");
    target.replaceChildren();
    const names = ["header", "payload", "signature"];
    parts.forEach((p, i) => {
      if (i > 0) target.append(el("span", { class: "dot" }, "."));
      target.append(el("span", { class: "seg-" + (names[i] || "signature") }, p));
    });
  }

  // Object members as a definition list; notes[name] adds a line under a value.
  function members(target, obj, notes, warnings) {
    target.replaceChildren();
    for (const [k, v] of Object.entries(obj || {})) {
      const dd = el("dd", {}, JSON.stringify(v, null, 2));
      if (notes && notes[k]) dd.append(el("span", { class: "note" }, notes[k]));
      if (warnings && warnings[k]) dd.append(el("span", { class: "note warn" }, warnings[k]));
      target.append(el("dt", {}, k), dd);
    }
  }

  async function copy(text, button) {
    try {
      await navigator.clipboard.writeText(text);
      const old = button.textContent;
      button.textContent = "Copied";
      setTimeout(() => { button.textContent = old; }, 1500);
    } catch (e) {
      button.textContent = "Copy failed: select the text";
    }
  }

  function wireCopy(button, source) {
    button.addEventListener("click", () => copy(source().trim(), button));
  }

  // Shows the fields of the radio choice that is checked; hides (and disables) the others.
  function wireChoice(form, name) {
    const update = () => {
      const chosen = form.querySelector('input[name="' + name + '"]:checked');
      for (const box of form.querySelectorAll("[data-when-" + name + "]")) {
        const show = chosen && box.getAttribute("data-when-" + name).split(" ").includes(chosen.value);
        box.hidden = !show;
        for (const input of box.querySelectorAll("input, textarea, select")) input.disabled = !show;
      }
    };
    for (const r of form.querySelectorAll('input[name="' + name + '"]')) r.addEventListener("change", update);
    update();
  }

  // "Show the secret" switches the secret field between hidden and plain text.
  function wireShowSecret() {
    const secret = document.getElementById("secret");
    document.getElementById("show-secret").addEventListener("change", (e) => {
      secret.type = e.target.checked ? "text" : "password";
    });
  }

  // The copy buttons of the made-token block (web/made.html).
  function wireMadeCopy() {
    wireCopy(document.getElementById("copy-token"), () => document.getElementById("made-token").textContent);
    wireCopy(document.getElementById("copy-command"), () => document.getElementById("command").textContent);
  }

  // A made token (login hint or request object): token, header, claims, command line.
  function showMade(out, data) {
    coloured(out.querySelector(".token"), data.token);
    out.querySelector(".made-header").textContent = JSON.stringify(data.header, null, 2);
    out.querySelector(".made-claims").textContent = JSON.stringify(data.claims, null, 2);
    out.querySelector(".command").textContent = data.command;
    out.querySelector(".command-env").textContent = data.command_env || "";
    const w = out.querySelector("ul.warnings");
    w.replaceChildren(...(data.warnings || []).map((m) => el("li", {}, "Warning: " + m)));
    out.hidden = false;
  }

  // Posts a generator form's values to `path`; shows the made token, or the error beside its
  // field.
  async function make(form, out, path, body) {
    const r = await api(path, body);
    if (!r.ok) {
      out.hidden = true;
      showError(form, r.error);
      return;
    }
    clearErrors(form);
    showMade(out, r.data);
  }

  return { make, api, clearErrors, showError, el, coloured, members, wireChoice, wireShowSecret, wireMadeCopy, showMade };
})();
