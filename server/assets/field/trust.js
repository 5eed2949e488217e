// The signed trust list (issue 22, docs/card-format.md §10) on the paramedic's device: fetched
// when online, verified with WebCrypto against the trust-list key pinned at enrollment (COSE
// ES256: raw r‖s over the Sig_structure, as card.js does for cards), checked against rollback and
// kept in IndexedDB; scanned cards are then checked against it offline — an issuer missing from
// the list, a key it does not list and a key marked compromised are refused, each in plain words.
// A tampered, expired or older list is refused: the last good list stays, and a warning says so.
//
// Pure but for `refreshTrustList` (network and store, passed in), so Node's test runner can check
// the decoder against the golden vector.

import { b64url, CardError, decodeCbor, kidOf, sigStructure, verifyCard } from "./card.js";

export const MAX_TRUST_LIST = 64 * 1024;
const CLAIM_VERSION = -65537n;
const CLAIM_KIND = -65539n;
const CLAIM_LIST_VERSION = -65540n;
const CLAIM_DEPLOYMENT = -65541n;
const CLAIM_ISSUERS = -65542n;
const ORDER = [1n, 4n, 6n, CLAIM_VERSION, CLAIM_KIND, CLAIM_LIST_VERSION, CLAIM_DEPLOYMENT, CLAIM_ISSUERS];

const bad = (why) => new CardError("trust_list_malformed", why);

function fields(item, what, allowed) {
  if (item?.t !== "map") throw bad(`${what}: not a map`);
  const out = new Map();
  let last = null;
  for (const [k, v] of item.v) {
    if (k.t !== "int" || !allowed.includes(k.v)) throw bad(`${what}: unexpected label`);
    if (last !== null && k.v <= last) throw bad(`${what}: labels out of order`);
    last = k.v;
    out.set(k.v, v);
  }
  return out;
}

const text = (v, what) => {
  if (v?.t !== "text" || !v.v.length || v.v.length > 512) throw bad(`${what}: not text`);
  return v.v;
};
const uint = (v, what) => {
  if (v?.t !== "int" || v.v < 0n) throw bad(`${what}: not an unsigned integer`);
  return v.v;
};

/** A COSE_Key `{1:2, 2:kid, 3:-7, -1:1, -2:x, -3:y}` (in that order) to a JWK with its kid. */
async function coseKey(item) {
  const want = [1n, 2n, 3n, -1n, -2n, -3n];
  if (item?.t !== "map" || item.v.length !== 6 || item.v.some(([k], i) => k.t !== "int" || k.v !== want[i])) {
    throw bad("a key is not a COSE_Key");
  }
  const [[, kty], [, kid], [, alg], [, crv], [, x], [, y]] = item.v;
  if (kty.v !== 2n || alg.v !== -7n || crv.v !== 1n || kid.t !== "bytes" || x.t !== "bytes" || y.t !== "bytes" || x.v.length !== 32 || y.v.length !== 32) {
    throw bad("a key is not an ES256 P-256 COSE_Key");
  }
  const jwk = { kty: "EC", crv: "P-256", x: b64url(x.v), y: b64url(y.v) };
  jwk.kid = await kidOf(jwk);
  if (jwk.kid !== b64url(kid.v)) throw bad("a key's kid is not its thumbprint");
  return jwk;
}

/** The list's claims (no signature check: `verifyTrustList` does that first). */
async function decodeClaims(payload) {
  const map = decodeCbor(payload);
  if (map.t !== "map" || map.v.length !== ORDER.length || map.v.some(([k], i) => k.t !== "int" || k.v !== ORDER[i])) {
    throw bad("unexpected or missing claims");
  }
  const get = (k) => map.v.find(([key]) => key.v === k)[1];
  if (get(CLAIM_VERSION).t !== "int" || get(CLAIM_VERSION).v !== 1n) throw new CardError("trust_list_unsupported_version");
  if (get(CLAIM_KIND).t !== "int" || get(CLAIM_KIND).v !== 2n) throw bad("not a trust list");
  const d = fields(get(CLAIM_DEPLOYMENT), "deployment", [1n, 2n, 3n, 4n, 5n, 6n]);
  const deployment = {
    id: text(d.get(1n), "deployment id"),
    nameJa: text(d.get(2n), "name"),
    nameEn: text(d.get(3n), "name"),
    baseUrl: text(d.get(4n), "base URL"),
    defaultIssuer: d.has(6n) ? text(d.get(6n), "default issuer") : null,
  };
  if (d.get(5n)?.t !== "array") throw bad("server keys");
  const issuers = [];
  const list = get(CLAIM_ISSUERS);
  if (list.t !== "array") throw bad("issuers");
  for (const item of list.v) {
    const f = fields(item, "issuer", [1n, 2n, 3n, 4n, 5n, 6n, 7n]);
    if (f.size !== 7 || f.get(5n).t !== "array") throw bad("an issuer has labels 1–7");
    const keys = [];
    for (const pair of f.get(5n).v) {
      if (pair.t !== "array" || pair.v.length !== 2) throw bad("an issuer key is [COSE_Key, status]");
      const status = text(pair.v[1], "status");
      if (!["active", "retired", "compromised"].includes(status)) throw bad("unknown key status");
      keys.push({ jwk: await coseKey(pair.v[0]), status });
    }
    issuers.push({
      id: text(f.get(1n), "issuer id"),
      nameJa: text(f.get(2n), "name"),
      nameEn: text(f.get(3n), "name"),
      cardBase: text(f.get(4n), "card base"),
      keys,
      revocationUrl: text(f.get(6n), "revocation URL"),
      deployment: text(f.get(7n), "deployment"),
    });
  }
  if (text(get(1n), "iss") !== deployment.id) throw bad("iss is not the deployment");
  return {
    version: Number(uint(get(CLAIM_LIST_VERSION), "version")),
    issuedAt: Number(uint(get(6n), "iat")),
    expiresAt: Number(uint(get(4n), "exp")),
    deployment,
    issuers,
  };
}

/**
 * Verifies a trust list as `kyukit_card::verify_trust_list` does: size, a tagged COSE_Sign1 with
 * only alg ES256 and kid, the kid of the pinned key (`trust_list_unknown_signer`), the signature
 * (`trust_list_bad_signature`), the claims (`trust_list_malformed`, `trust_list_unsupported_version`),
 * then `now < exp` (`trust_list_expired`). `pinned`: the JWK enrollment gave. Resolves to the list.
 */
export async function verifyTrustList(bytes, pinned, now) {
  if (!pinned) throw new CardError("trust_list_no_key");
  if (bytes.length > MAX_TRUST_LIST) throw bad("too large");
  let msg;
  try {
    msg = decodeCbor(bytes);
  } catch (e) {
    throw bad(e.message);
  }
  if (msg.t !== "tag" || msg.tag !== 18 || msg.v.t !== "array" || msg.v.v.length !== 4) throw bad("not a tagged COSE_Sign1");
  const [prot, unprot, payload, sig] = msg.v.v;
  if (prot.t !== "bytes" || payload.t !== "bytes" || sig.t !== "bytes") throw bad("COSE_Sign1 parts");
  const header = decodeCbor(prot.v);
  const onlyAlgKid = header.t === "map" && header.v.length === 2 && header.v[0][0].v === 1n && header.v[1][0].v === 4n;
  if (!onlyAlgKid || header.v[0][1].v !== -7n || header.v[1][1].t !== "bytes") throw bad("protected header");
  if (unprot.t !== "map" || unprot.v.length !== 0) throw bad("unprotected header");
  const kid = b64url(header.v[1][1].v);
  if (kid !== (await kidOf(pinned))) throw new CardError("trust_list_unknown_signer", kid);
  const key = await crypto.subtle.importKey("jwk", { kty: "EC", crv: "P-256", x: pinned.x, y: pinned.y, ext: true }, { name: "ECDSA", namedCurve: "P-256" }, false, ["verify"]);
  const ok = sig.v.length === 64 && (await crypto.subtle.verify({ name: "ECDSA", hash: "SHA-256" }, key, sig.v, sigStructure(prot.v, payload.v)));
  if (!ok) throw new CardError("trust_list_bad_signature");
  let list;
  try {
    list = await decodeClaims(payload.v);
  } catch (e) {
    throw e instanceof CardError && e.code.startsWith("trust_list") ? e : bad(e.message);
  }
  if (now >= list.expiresAt) throw new CardError("trust_list_expired");
  return list;
}

/**
 * A card against a verified list (`verify_with_trust_list`): the issuer is the card's `iss`, or
 * without one the issuer holding its key (the default issuer first); not listed → `unknown_issuer`; its kid must be one of that issuer's
 * keys (`unknown_issuer_key`), not compromised (`compromised_key`); then the card is verified with
 * that key (card.js: signature, claims, expiry).
 */
export async function verifyWithTrustList(bytes, list, now) {
  const msg = decodeCbor(bytes);
  if (msg.t !== "tag" || msg.v.t !== "array" || msg.v.v.length !== 4 || msg.v.v[0].t !== "bytes" || msg.v.v[2].t !== "bytes") {
    throw new CardError("malformed", "not a COSE_Sign1");
  }
  const header = decodeCbor(msg.v.v[0].v);
  const kidItem = header.t === "map" ? header.v.find(([k]) => k.v === 4n)?.[1] : null;
  if (kidItem?.t !== "bytes") throw new CardError("malformed", "no kid");
  const kid = b64url(kidItem.v);
  const claims = decodeCbor(msg.v.v[2].v);
  const issItem = claims.t === "map" ? claims.v.find(([k]) => k.t === "int" && k.v === 1n)?.[1] : null;
  // Without `iss`: the default issuer if it holds the card's key, else the listed issuer that
  // does (a peer deployment's municipality: docs/federation.md), else the default issuer.
  let issuer;
  let iss;
  if (issItem?.t === "text") {
    iss = issItem.v;
    issuer = list.issuers.find((i) => i.id === iss);
  } else {
    const holds = (i) => i.keys.some((k) => k.jwk.kid === kid);
    const dflt = list.issuers.find((i) => i.id === list.deployment.defaultIssuer);
    issuer = (dflt && holds(dflt) ? dflt : list.issuers.find(holds)) || dflt;
    iss = issuer?.id;
  }
  if (!issuer) throw new CardError("unknown_issuer", iss || "");
  const entry = issuer.keys.find((k) => k.jwk.kid === kid);
  if (!entry) throw new CardError("unknown_issuer_key", kid);
  if (entry.status === "compromised") throw new CardError("compromised_key", kid);
  const key = await crypto.subtle.importKey("jwk", { kty: "EC", crv: "P-256", x: entry.jwk.x, y: entry.jwk.y, ext: true }, { name: "ECDSA", namedCurve: "P-256" }, false, ["verify"]);
  const card = await verifyCard(bytes, new Map([[kid, key]]), now);
  return { ...card, issuer };
}

/**
 * Fetches `/api/v1/trust-list`, verifies it against the pinned key and refuses a version older than
 * the kept one; keeps it (`trust_list`: bytes, version, expiry, when fetched). A refusal keeps the
 * last good list and records why (`trust_warning`), which `trustWarning` turns into words.
 * `env`: { fetch, store, pinned, now, fresh(response) }.
 */
export async function refreshTrustList(env) {
  if (!env.pinned) return null;
  const r = await env.fetch("/api/v1/trust-list", { cache: "no-store" });
  if (!env.fresh(r)) return null;
  const bytes = new Uint8Array(await r.arrayBuffer());
  const held = await env.store.get("trust_list");
  try {
    const list = await verifyTrustList(bytes, env.pinned, env.now);
    if (held && list.version < held.version) throw new CardError("trust_list_rollback", `${list.version} < ${held.version}`);
    await env.store.put("trust_list", { bytes, version: list.version, expiresAt: list.expiresAt, fetchedAt: env.now });
    await env.store.del("trust_warning");
    return list;
  } catch (e) {
    await env.store.put("trust_warning", { code: e.code || "trust_list_malformed", at: env.now });
    return null;
  }
}

/** The kept list, verified again at `now` (an expired one is refused), or why not: { list } | { code } | null. */
export async function keptTrustList(store, pinned, now) {
  const held = await store.get("trust_list");
  if (!held || !pinned) return null;
  try {
    return { list: await verifyTrustList(held.bytes, pinned, now) };
  } catch (e) {
    return { code: e.code || "trust_list_malformed" };
  }
}

/** A card refused by the kept list (`{ kind: "not_genuine", code }`), or null (no list, or it lets the card through to card.js's checks). */
export async function trustRefusal(bytes, store, pinned, now) {
  const kept = await keptTrustList(store, pinned, now);
  if (!kept?.list) return null;
  try {
    await verifyWithTrustList(bytes, kept.list, now);
    return null;
  } catch (e) {
    return ["unknown_issuer", "unknown_issuer_key", "compromised_key"].includes(e.code) ? { kind: "not_genuine", code: e.code } : null;
  }
}

/** The warning line: the last update was refused (and why), or the kept list has expired. */
export async function paintTrustWarning(el, store, pinned, now, t) {
  if (!el) return;
  const warning = await store.get("trust_warning");
  const kept = await keptTrustList(store, pinned, now);
  let text = "";
  if (warning) text = t("trust.refused", { why: t(`err.${warning.code}`) });
  else if (kept?.code === "trust_list_expired") text = t("trust.expired");
  el.textContent = text;
  el.dataset.code = warning?.code || kept?.code || "";
  el.hidden = !text;
}
