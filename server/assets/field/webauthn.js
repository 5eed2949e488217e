// Biometric unlock (issue 21): after a password + TOTP login, the paramedic may register this
// device's platform authenticator (fingerprint, face or screen lock; user verification required)
// and later open a session with it instead. Every step is a request signed by the device key
// (docs/api.md "Biometric unlock"): the server accepts the authenticator's answer only from the
// device it was registered on. Kept here: which account registered (`webauthn` in store.js), to
// offer the button; never a secret (the authenticator keeps its key).

import { t } from "./i18n.js";
import * as store from "./store.js";

const KEY = "webauthn";

const enc = (buf) => {
  let s = "";
  for (const b of new Uint8Array(buf)) s += String.fromCharCode(b);
  return btoa(s).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
};
const dec = (s) => Uint8Array.from(atob(s.replace(/-/g, "+").replace(/_/g, "/")), (c) => c.charCodeAt(0));

/** Whether this browser has a user-verifying platform authenticator. */
export async function platformAvailable() {
  try {
    return Boolean(globalThis.PublicKeyCredential) && (await PublicKeyCredential.isUserVerifyingPlatformAuthenticatorAvailable());
  } catch {
    return false;
  }
}

/** The registration kept for `device`, if any: `{deviceId, loginId, credentialId}`. */
export async function loadUnlock(device) {
  const r = device ? await store.get(KEY).catch(() => null) : null;
  return r && r.deviceId === device.id ? r : null;
}

/** Registers the platform authenticator for the logged-in paramedic on this device. */
async function register(ctx) {
  const { S } = ctx;
  const c = await ctx.signed("POST", "/api/v1/webauthn/registrations");
  const o = c.options;
  const cred = await navigator.credentials.create({
    publicKey: {
      ...o,
      challenge: dec(o.challenge),
      user: { ...o.user, id: dec(o.user.id) },
      excludeCredentials: (o.excludeCredentials || []).map((x) => ({ ...x, id: dec(x.id) })),
    },
  });
  const r = await ctx.signed("POST", "/api/v1/webauthn/registrations/finish", {
    challenge_id: c.challenge_id,
    credential_id: enc(cred.rawId),
    client_data_json: enc(cred.response.clientDataJSON),
    attestation_object: enc(cred.response.attestationObject),
  });
  S.webauthn = { deviceId: S.device.id, loginId: S.loginId, credentialId: r.credential_id };
  await store.put(KEY, S.webauthn);
}

/** After a password login: offer the screen lock for next time (once per device and account). */
export async function offerUnlock(ctx) {
  const { S, $ } = ctx;
  if (S.webauthn?.loginId === S.loginId || !(await platformAvailable())) return;
  const box = $("webauthn-offer");
  box.hidden = false;
  $("webauthn-register").onclick = async () => {
    try {
      await register(ctx);
      box.hidden = true;
      ctx.message(() => t("wa.registered"), "ok");
    } catch (e) {
      ctx.message(() => t("wa.registerFailed", { why: ctx.why(e) }));
    }
    ctx.render();
  };
  $("webauthn-later").onclick = () => {
    box.hidden = true;
  };
}

/** Opens a session with the authenticator: `{token, login_id}`. */
export async function unlockWithAuthenticator(ctx) {
  const { S } = ctx;
  let c;
  try {
    c = await ctx.signed("POST", "/api/v1/webauthn/unlocks");
  } catch (e) {
    if (e.code === "webauthn_not_registered") {
      // Removed on the server (device revoked, account suspended): stop offering it.
      S.webauthn = null;
      await store.del(KEY).catch(() => {});
    }
    throw e;
  }
  const o = c.options;
  const a = await navigator.credentials.get({
    publicKey: { ...o, challenge: dec(o.challenge), allowCredentials: o.allowCredentials.map((x) => ({ ...x, id: dec(x.id) })) },
  });
  return ctx.signed("POST", "/api/v1/webauthn/unlocks/finish", {
    challenge_id: c.challenge_id,
    credential_id: enc(a.rawId),
    client_data_json: enc(a.response.clientDataJSON),
    authenticator_data: enc(a.response.authenticatorData),
    signature: enc(a.response.signature),
  });
}
