// RFC 9421 HTTP Message Signatures as docs/device-protocol.md profiles them, with WebCrypto:
// label `kyukit`, `ecdsa-p256-sha256`, components `@method @authority @path [@query]
// [authorization] [content-digest]`, parameters `created`, `nonce`, `keyid`, `alg` in that order
// (the Rust client's order; the server takes any), canonical serialisation. The device's private
// key is a non-extractable CryptoKey: it signs, and nothing can read it out.
//
// Pure ES module (no DOM): Node's test runner checks the signature base against the protocol's
// example and the Rust client's (tests/browser/field/unit.test.mjs).

export const LABEL = "kyukit";
export const ALG = "ecdsa-p256-sha256";

const subtle = () => globalThis.crypto.subtle;

function b64(bytes) {
  let s = "";
  for (const b of bytes) s += String.fromCharCode(b);
  return btoa(s);
}

const b64url = (bytes) => b64(bytes).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");

/** RFC 9530 `Content-Digest` of the exact body bytes. */
export async function contentDigest(body) {
  const digest = new Uint8Array(await subtle().digest("SHA-256", body));
  return `sha-256=:${b64(digest)}:`;
}

/** 16 random bytes, unpadded base64url (22 characters; the protocol takes 16–64). */
export function newNonce() {
  return b64url(globalThis.crypto.getRandomValues(new Uint8Array(16)));
}

function sfString(s) {
  if (!/^[\x20-\x7e]*$/.test(s)) throw new Error(`${JSON.stringify(s)} cannot be a signature parameter`);
  return `"${s.replace(/[\\"]/g, (c) => `\\${c}`)}"`;
}

/** The `Signature-Input` value after `kyukit=`, also the `@signature-params` line's value. */
export function signatureParams(covered, created, nonce, keyid) {
  return `(${covered.map(sfString).join(" ")});created=${created};nonce=${sfString(nonce)};keyid=${sfString(keyid)};alg=${sfString(ALG)}`;
}

/**
 * The covered components of a request, in the protocol's order: `url` is absolute (a URL
 * object); `@authority` is its host as the browser sends it in `Host` (lower case, with a port
 * only when not the scheme's default — which is what URL.host gives).
 */
export function coveredComponents(method, url, authorization, digest) {
  const c = [
    ["@method", method.toUpperCase()],
    ["@authority", url.host.toLowerCase()],
    ["@path", url.pathname],
  ];
  if (url.search && url.search !== "?") c.push(["@query", url.search]);
  if (authorization) c.push(["authorization", authorization.trim()]);
  if (digest) c.push(["content-digest", digest.trim()]);
  return c;
}

/** RFC 9421 §2.5: one `"name": value` line per component, then `"@signature-params"`. */
export function signatureBase(components, params) {
  return [...components.map(([n, v]) => `"${n}": ${v}`), `"@signature-params": ${params}`].join("\n");
}

/**
 * The headers that sign a request: `Signature-Input`, `Signature`, and `Content-Digest` when
 * there is a body. `privateKey` is the device's CryptoKey; `keyid` its device id; `created`
 * Unix seconds (the caller corrects for clock skew). Returns also the base, for tests.
 */
export async function signRequest({ method, url, body, authorization, privateKey, keyid, created, nonce }) {
  const u = url instanceof URL ? url : new URL(url);
  const bytes = body === undefined || body === null ? null : typeof body === "string" ? new TextEncoder().encode(body) : body;
  const digest = bytes && bytes.length ? await contentDigest(bytes) : null;
  const components = coveredComponents(method, u, authorization, digest);
  const params = signatureParams(
    components.map(([n]) => n),
    created ?? Math.floor(Date.now() / 1000),
    nonce ?? newNonce(),
    keyid,
  );
  const base = signatureBase(components, params);
  const sig = new Uint8Array(
    await subtle().sign({ name: "ECDSA", hash: "SHA-256" }, privateKey, new TextEncoder().encode(base)),
  );
  const headers = {
    "Signature-Input": `${LABEL}=${params}`,
    Signature: `${LABEL}=:${b64(sig)}:`,
  };
  if (digest) headers["Content-Digest"] = digest;
  return { headers, base };
}

/** A fresh device key: P-256, the private half non-extractable. */
export async function generateDeviceKey() {
  return subtle().generateKey({ name: "ECDSA", namedCurve: "P-256" }, false, ["sign", "verify"]);
}

/** The public half as the JWK enrollment sends (`kty`, `crv`, `x`, `y` only). */
export async function publicJwk(keyPair) {
  const jwk = await subtle().exportKey("jwk", keyPair.publicKey);
  return { kty: "EC", crv: "P-256", x: jwk.x, y: jwk.y };
}
