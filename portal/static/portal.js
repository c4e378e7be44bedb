// The portal's only script: copy buttons, the CLI login's hand-over, and passkeys. Everything
// else works without it (the buttons stay hidden, "Copy AWS Console URL" shows the URL on a page
// instead, and the CLI login page offers a link); passkeys need it (WebAuthn is a browser API),
// and without it their buttons stay hidden and a code still signs in.
"use strict";

function say(id, text) {
  const el = id && document.getElementById(id);
  if (el) el.textContent = text;
}

// A button with data-copy="ID" copies that element's text (or an input's value).
for (const button of document.querySelectorAll("button[data-copy]")) {
  button.hidden = false;
  button.addEventListener("click", async () => {
    const source = document.getElementById(button.dataset.copy);
    if (!source) return;
    const text = "value" in source ? source.value : source.textContent;
    try {
      await navigator.clipboard.writeText(text);
      button.textContent = "Copied";
    } catch {
      button.textContent = "Copy failed: select the text and copy it";
    }
  });
}

// A form with data-copy-url="STATUS-ID" fetches a console sign-in URL and puts it on the
// clipboard. The fetch is handed to the clipboard as a promise, so the click still counts as the
// user's gesture when it resolves.
for (const form of document.querySelectorAll("form[data-copy-url]")) {
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const status = form.dataset.copyUrl;
    say(status, "Getting a sign-in URL...");
    let validity = 0;
    const text = fetch(form.action, {
      method: "POST",
      body: new URLSearchParams(new FormData(form)),
      headers: { Accept: "application/json" },
      credentials: "same-origin",
    }).then(async (response) => {
      // A page instead of JSON: the session ended or the form went stale.
      if (!(response.headers.get("Content-Type") || "").startsWith("application/json")) {
        throw new Error("your session has ended: reload the page and sign in again");
      }
      const body = await response.json();
      if (!response.ok) throw new Error(body.error || `status ${response.status}`);
      validity = body.validity;
      return new Blob([body.url], { type: "text/plain" });
    });
    try {
      await navigator.clipboard.write([new ClipboardItem({ "text/plain": text })]);
      say(status, `Copied. The URL signs in for ${Math.round(validity / 60)} minutes: treat it like a password.`);
    } catch (e) {
      say(status, `Not copied: ${e.message}`);
    }
  });
}

// The CLI login's hand-over (docs/protocol.md §2): POST the token (or, on /v2/callbackWithOtp,
// {"token","otp"}) to the CLI's loopback callback, so it is in no URL the browser keeps, then
// on to the done page. The page's CSP
// allows this one page to connect to loopback.
const handoff = document.getElementById("handoff");
if (handoff) {
  const { callback, done, body } = handoff.dataset;
  handoff.remove();
  const failed = (why) => {
    const port = new URL(callback).port;
    const status = document.getElementById("handoff-status");
    if (status) status.hidden = true;
    const alert = document.getElementById("handoff-failed");
    if (!alert) return;
    alert.textContent =
      `The command line did not get the credentials (${why}). Is jit still waiting on local ` +
      `port ${port}? If it stopped or timed out, run the command again to log in.`;
    alert.hidden = false;
  };
  fetch(callback, {
    method: "POST",
    body,
    credentials: "omit",
    cache: "no-store",
    redirect: "error",
    referrerPolicy: "no-referrer",
  }).then(
    (response) => {
      if (response.ok) location.replace(done);
      else failed(`it answered status ${response.status}`);
    },
    () => failed("nothing answered on this computer"),
  );
}

// Passkeys (docs/protocol.md §11): the profile's form with data-passkey-register registers one
// (navigator.credentials.create), the factor page's form with data-passkey-use signs in with one
// (navigator.credentials.get). The portal's JSON carries binary fields as base64url.
const b64url = {
  decode(s) {
    const b64 = s.replace(/-/g, "+").replace(/_/g, "/") + "=".repeat((4 - (s.length % 4)) % 4);
    return Uint8Array.from(atob(b64), (c) => c.charCodeAt(0)).buffer;
  },
  encode(buffer) {
    let text = "";
    for (const byte of new Uint8Array(buffer)) text += String.fromCharCode(byte);
    return btoa(text).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  },
};

async function postJson(url, body) {
  const response = await fetch(url, {
    method: "POST",
    body: JSON.stringify(body),
    headers: { "Content-Type": "application/json", Accept: "application/json" },
    credentials: "same-origin",
  });
  if (!(response.headers.get("Content-Type") || "").startsWith("application/json")) {
    throw new Error("your session has ended: reload the page and sign in again");
  }
  const answer = await response.json();
  if (!response.ok) throw new Error(answer.error || `status ${response.status}`);
  return answer;
}

function passkeyForm(selector, run, status = "passkey-status") {
  if (!window.PublicKeyCredential) return;
  for (const form of document.querySelectorAll(selector)) {
    const button = form.querySelector("button[type=submit]");
    if (button) button.hidden = false;
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      say(status, "");
      try {
        const csrf = form.elements.csrf.value;
        const { next } = await run(form, csrf);
        window.location.assign(next);
      } catch (e) {
        say(status, `Passkey: ${e.message}`);
      }
    });
  }
}

passkeyForm("form[data-passkey-register]", async (form, csrf) => {
  const { publicKey } = await postJson("/profile/passkeys/options", { csrf });
  publicKey.challenge = b64url.decode(publicKey.challenge);
  publicKey.user.id = b64url.decode(publicKey.user.id);
  for (const c of publicKey.excludeCredentials || []) c.id = b64url.decode(c.id);
  const credential = await navigator.credentials.create({ publicKey });
  return postJson(form.action, {
    csrf,
    name: form.elements.name.value,
    credential: {
      id: credential.id,
      rawId: b64url.encode(credential.rawId),
      type: credential.type,
      response: {
        attestationObject: b64url.encode(credential.response.attestationObject),
        clientDataJSON: b64url.encode(credential.response.clientDataJSON),
      },
    },
  });
});

// An assertion (navigator.credentials.get) for the request options at `optionsUrl`, as the
// portal reads it.
async function assertion(optionsUrl, csrf) {
  const { publicKey } = await postJson(optionsUrl, { csrf });
  publicKey.challenge = b64url.decode(publicKey.challenge);
  for (const c of publicKey.allowCredentials || []) c.id = b64url.decode(c.id);
  const credential = await navigator.credentials.get({ publicKey });
  const r = credential.response;
  return {
    id: credential.id,
    rawId: b64url.encode(credential.rawId),
    type: credential.type,
    response: {
      authenticatorData: b64url.encode(r.authenticatorData),
      clientDataJSON: b64url.encode(r.clientDataJSON),
      signature: b64url.encode(r.signature),
      userHandle: r.userHandle ? b64url.encode(r.userHandle) : null,
    },
  };
}

passkeyForm("form[data-passkey-use]", async (form, csrf) => postJson(form.action, {
  csrf,
  credential: await assertion("/login/passkey/options", csrf),
}));

// Removing a passkey, for a user without an authenticator app: confirmed with a passkey.
passkeyForm("form[data-passkey-remove]", async (form, csrf) => postJson(form.action, {
  csrf,
  name: form.elements.name.value,
  credential: await assertion("/profile/passkeys/remove/options", csrf),
}), "passkey-remove-status");
