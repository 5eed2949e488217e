// The device and the paramedic's session on it (issue 21): enrolment, login (password + TOTP, or
// the device's screen lock through WebAuthn: webauthn.js), logout, forgetting the device.
//
// The session token is kept in this origin's IndexedDB beside the device key (store.js), so a card
// URL the phone's camera opens in a new tab or window of the same browser profile finds the
// paramedic logged in. The token alone opens nothing: the server accepts a device-bound session
// only on requests signed by that device's non-extractable key (docs/device-protocol.md), and the
// session ends as before — logout (here, in every tab: a BroadcastChannel tells them), the
// server's idle and absolute timeouts, the device's revocation or the account's suspension (the
// next request answers 401 and the app forgets the token). docs/threat-model.md says what keeping
// it beyond one tab means.

import { netText } from "./errors.js";
import { generateDeviceKey, publicJwk } from "./httpsig.js";
import { t } from "./i18n.js";
import { net } from "./net.js";
import * as store from "./store.js";
import { offerUnlock, unlockWithAuthenticator } from "./webauthn.js";

const KEY = "session";
const OLD_KEYS = ["kyukit.field.token", "kyukit.field.login"]; // sessionStorage, before issue 21
const channel = "BroadcastChannel" in globalThis ? new BroadcastChannel("kyukit-field-session") : null;

/** The session kept for this device, if any: `{token, loginId}`. */
export async function loadSession(device) {
  for (const k of OLD_KEYS) globalThis.sessionStorage?.removeItem(k);
  if (!device) return null;
  const s = await store.get(KEY).catch(() => null);
  return s && s.deviceId === device.id && s.token ? { token: s.token, loginId: s.loginId } : null;
}

/** Wires enrolment, login, unlock, logout and forgetting to the page; `ctx` is field.js's. */
export function initSession(ctx) {
  const { S, $, message, render } = ctx;

  async function adopt(token, loginId, form) {
    S.token = token;
    S.loginId = loginId;
    await store.put(KEY, { deviceId: S.device.id, token, loginId });
    channel?.postMessage({ type: "login" });
    form?.reset();
    message("");
    render();
    ctx.startFeed();
    if (S.verdict?.kind === "genuine") ctx.fetchDataset();
  }

  async function enroll(ev) {
    ev.preventDefault();
    const f = ev.target;
    if (net.unreachable()) return message(() => `${t("enroll.needOnline")} ${netText(net.state())}`);
    try {
      const keyPair = await generateDeviceKey();
      const label = f.label.value.trim() || null;
      const r = await net.fetch("/api/v1/devices", {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ code: f.code.value.trim(), public_key: await publicJwk(keyPair), label }),
      });
      const d = await ctx.json(r);
      S.device = { id: d.device_id, facilityId: d.facility_id, label: d.label, keyPair, trustKey: d.trust_list_key || null };
      await store.put("device", S.device);
      f.reset();
      message(() => t("enroll.done"), "ok");
      await ctx.refreshKeys();
      render();
    } catch (e) {
      message(() => `${t("common.error")}: ${ctx.why(e)}`);
    }
  }

  async function login(ev) {
    ev.preventDefault();
    const f = ev.target;
    try {
      const loginId = f.login_id.value.trim();
      const r = await ctx.signed("POST", "/api/v1/sessions", {
        login_id: loginId,
        password: f.password.value,
        totp: f.totp.value.trim(),
      });
      await adopt(r.token, loginId, f);
      offerUnlock(ctx); // the first login on this device: the screen lock next time?
    } catch (e) {
      message(() => t("login.failed", { why: ctx.why(e) }));
      ctx.onAuthError(e);
    }
  }

  async function unlock() {
    try {
      const r = await unlockWithAuthenticator(ctx);
      await adopt(r.token, r.login_id);
    } catch (e) {
      ctx.onAuthError(e);
      message(() => t("wa.failed", { why: ctx.why(e) }));
    }
  }

  /** Ends the session (`callServer`: also on the server) in this tab and every other one. */
  async function logout(callServer = true, tellOthers = true) {
    if (callServer && S.token) {
      net.fetch("/api/v1/sessions/current", { method: "DELETE", headers: { Authorization: `Bearer ${S.token}` } }).catch(() => {});
    }
    S.token = null;
    S.loginId = null;
    await store.del(KEY).catch(() => {});
    if (tellOthers) channel?.postMessage({ type: "logout" });
    S.feed.abort?.abort();
    S.disclosure = null;
    if (S.verdict?.kind === "break_glass") S.verdict = null; // the session's lookup ends with it
    ctx.dropPhoto();
    ctx.onLogout?.();
    render();
  }

  async function forget() {
    if (!confirm(t("device.forgetConfirm"))) return;
    await logout();
    await ctx.onForget?.();
    await store.del("device");
    await store.del("webauthn").catch(() => {});
    S.device = null;
    render();
  }

  // Another tab logged in or out: follow it.
  channel?.addEventListener("message", async (ev) => {
    if (ev.data?.type === "logout" && S.token) return logout(false, false);
    if (ev.data?.type === "login" && !S.token) {
      const s = await loadSession(S.device);
      if (s) {
        S.token = s.token;
        S.loginId = s.loginId;
        render();
        ctx.startFeed();
        if (S.verdict?.kind === "genuine") ctx.fetchDataset();
      }
    }
  });

  $("enroll-form").addEventListener("submit", enroll);
  $("login-form").addEventListener("submit", login);
  $("unlock").addEventListener("click", unlock);
  $("logout").addEventListener("click", () => logout());
  $("forget").addEventListener("click", forget);
  return { logout };
}
