// The paramedic app's requests to the server: signed by the enrolled device (RFC 9421), with the
// session when there is one, through net.js (so every outcome says whether the server answers).
// `session` is the app's state object (field.js adds its own fields to it): the device, the
// session token and the server's clock offset live here.

import { signRequest } from "./httpsig.js";
import { net } from "./net.js";

export const session = {
  device: null, // {id, facilityId, label, keyPair}
  token: null,
  loginId: null,
  skew: 0, // server clock − ours, seconds
};

/** The server answered with an error `{error: code, message}`. */
export class ApiError extends Error {
  constructor(status, code, text) {
    super(text || code);
    this.status = status;
    this.code = code;
  }
}

function noteClock(r) {
  const d = Date.parse(r.headers.get("date") || "");
  if (!Number.isNaN(d)) {
    const skew = Math.round((d - Date.now()) / 1000);
    session.skew = Math.abs(skew) > 5 ? skew : 0;
  }
}

/** A request signed by this device, with the session when there is one. `opts.headers` are added
 * (e.g. `Idempotency-Key`), `opts.signal` cancels. */
export async function signedFetch(method, path, body, opts = {}, retried = false) {
  const url = new URL(path, location.origin);
  const text = body === undefined ? null : JSON.stringify(body);
  const authorization = session.token ? `Bearer ${session.token}` : null;
  const { headers } = await signRequest({
    method,
    url,
    body: text,
    authorization,
    privateKey: session.device.keyPair.privateKey,
    keyid: session.device.id,
    created: Math.floor(Date.now() / 1000) + session.skew,
  });
  if (authorization) headers.Authorization = authorization;
  if (text) headers["Content-Type"] = "application/json";
  const r = await net.fetch(url, { method, headers: { ...headers, ...(opts.headers || {}) }, body: text, cache: "no-store", signal: opts.signal });
  noteClock(r);
  if (r.status === 401 && !retried && r.headers.get("content-type")?.includes("json")) {
    const err = await r.clone().json();
    if (err.error === "signature_expired") return signedFetch(method, path, body, opts, true);
  }
  return r;
}

/** The JSON body of a successful answer, else throws ApiError. */
export async function json(r) {
  const body = await r.json().catch(() => ({}));
  if (!r.ok) throw new ApiError(r.status, body.error || `http_${r.status}`, body.message);
  return body;
}

/** A signed request's JSON answer (`key`: its Idempotency-Key, for changes sent again). */
export const signed = async (method, path, body, key = null) =>
  json(await signedFetch(method, path, body, key ? { headers: { "Idempotency-Key": key } } : {}));
