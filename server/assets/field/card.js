// Offline verification of a Kyukit card (docs/card-format.md) with WebCrypto: the URL's digits
// back to COSE bytes, a strict CBOR decoder (shortest forms only, no indefinite lengths, no
// trailing bytes, claims in the issuer's order, so each card has one encoding, as in the Rust
// crate), COSE_Sign1 ES256 verification over the Sig_structure (COSE signatures are raw r‖s,
// which is what WebCrypto's ECDSA takes), the CWT claims and the triage core, the JWKS import
// (kid = RFC 7638 thumbprint prefix) and the per-kid revocation list.
//
// Pure ES module: no DOM, so Node's test runner checks it against the golden vectors
// (tests/browser/field/unit.test.mjs).

export const MAX_COSE = 512;
const MAX_URL = 2048;

/** Why a card was refused; `code` is stable, the UI maps it to words. */
export class CardError extends Error {
  constructor(code, detail) {
    super(`${code}${detail ? `: ${detail}` : ""}`);
    this.code = code;
  }
}
const malformed = (why) => new CardError("malformed", why);

// ---- bytes ---------------------------------------------------------------------------------------

export function hex(bytes) {
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

export function fromHex(s) {
  if (s.length % 2 || /[^0-9a-f]/i.test(s)) throw new Error("not hex");
  const out = new Uint8Array(s.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(s.slice(2 * i, 2 * i + 2), 16);
  return out;
}

export function b64url(bytes) {
  let s = "";
  for (const b of bytes) s += String.fromCharCode(b);
  return btoa(s).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

export function fromB64url(s) {
  if (/[^A-Za-z0-9_-]/.test(s)) throw new Error("not base64url");
  const pad = s.length % 4 === 2 ? "==" : s.length % 4 === 3 ? "=" : s.length % 4 === 1 ? null : "";
  if (pad === null) throw new Error("not base64url");
  const bin = atob(s.replace(/-/g, "+").replace(/_/g, "/") + pad);
  return Uint8Array.from(bin, (c) => c.charCodeAt(0));
}

// ---- the URL's digits (card-format §4) -----------------------------------------------------------

// Digits of a final chunk of n = 1…6 bytes.
const TAIL_DIGITS = { 3: 1, 5: 2, 8: 3, 10: 4, 13: 5, 15: 6 };

/** The decimal digits of a card URL back to its COSE bytes (unique form; else `malformed`). */
export function digitsToBytes(digits) {
  if (!/^[0-9]+$/.test(digits)) throw malformed("the card part is not decimal digits");
  if (digits.length > Math.ceil((MAX_COSE * 17) / 7)) throw new CardError("oversize");
  const out = [];
  for (let at = 0; at < digits.length; at += 17) {
    const chunk = digits.slice(at, at + 17);
    const n = chunk.length === 17 ? 7 : TAIL_DIGITS[chunk.length];
    if (!n) throw malformed("a digit group of the wrong length");
    let v = BigInt(chunk);
    if (v >= 1n << BigInt(8 * n)) throw malformed("a digit group out of range");
    const bytes = new Array(n);
    for (let i = n - 1; i >= 0; i--) {
      bytes[i] = Number(v & 0xffn);
      v >>= 8n;
    }
    out.push(...bytes);
  }
  return Uint8Array.from(out);
}

/** COSE bytes to the URL digits (the inverse; used by the tests to make tampered cards). */
export function bytesToDigits(bytes) {
  let s = "";
  for (let at = 0; at < bytes.length; at += 7) {
    const chunk = bytes.slice(at, at + 7);
    let v = 0n;
    for (const b of chunk) v = (v << 8n) | BigInt(b);
    const width = chunk.length === 7 ? 17 : Object.keys(TAIL_DIGITS).find((d) => TAIL_DIGITS[d] === chunk.length);
    s += v.toString().padStart(Number(width), "0");
  }
  return s;
}

/**
 * What a QR code, an NFC URI record, a pasted text or a `#card=` hand-off carries, to COSE bytes:
 * a card URL `https://<host>/c/<digits>` (any case, as QR codes carry it upper-cased), the bare
 * digits, or base64url COSE bytes.
 */
export function cardBytesFrom(text) {
  const s = String(text || "").trim();
  if (s.length > MAX_URL) throw new CardError("oversize");
  const url = /^https?:\/\/[^/?#\s]+(?:\/[^?#\s]*)?\/c\/([0-9]+)\/?$/i.exec(s);
  if (url) return digitsToBytes(url[1]);
  if (/^[0-9]+$/.test(s)) return digitsToBytes(s);
  if (/^[A-Za-z0-9_-]+$/.test(s)) {
    try {
      return fromB64url(s);
    } catch {
      /* fall through */
    }
  }
  throw new CardError("not_a_card", "this code is not a Kyukit card");
}

// ---- strict CBOR ---------------------------------------------------------------------------------

function decodeItem(buf, pos, depth) {
  if (depth > 8) throw malformed("nested too deeply");
  if (pos >= buf.length) throw malformed("truncated");
  const ib = buf[pos++];
  const major = ib >> 5;
  const ai = ib & 0x1f;
  let arg;
  if (ai < 24) arg = ai;
  else if (ai <= 27) {
    const n = 1 << (ai - 24);
    if (pos + n > buf.length) throw malformed("truncated");
    let v = 0n;
    for (let i = 0; i < n; i++) v = (v << 8n) | BigInt(buf[pos + i]);
    pos += n;
    const min = [24n, 0x100n, 0x10000n, 0x100000000n][ai - 24];
    if (v < min) throw malformed("a non-shortest integer encoding");
    arg = v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v;
  } else throw malformed("indefinite lengths and reserved values are refused");
  switch (major) {
    case 0:
      return [{ t: "int", v: typeof arg === "bigint" ? arg : BigInt(arg) }, pos];
    case 1:
      return [{ t: "int", v: -1n - (typeof arg === "bigint" ? arg : BigInt(arg)) }, pos];
    case 2:
    case 3: {
      if (typeof arg === "bigint" || pos + arg > buf.length) throw malformed("truncated");
      const bytes = buf.slice(pos, pos + arg);
      pos += arg;
      if (major === 2) return [{ t: "bytes", v: bytes }, pos];
      let text;
      try {
        text = new TextDecoder("utf-8", { fatal: true }).decode(bytes);
      } catch {
        throw malformed("invalid UTF-8");
      }
      return [{ t: "text", v: text }, pos];
    }
    case 4: {
      if (typeof arg === "bigint" || arg > 64) throw malformed("array too long");
      const items = [];
      for (let i = 0; i < arg; i++) {
        let item;
        [item, pos] = decodeItem(buf, pos, depth + 1);
        items.push(item);
      }
      return [{ t: "array", v: items }, pos];
    }
    case 5: {
      if (typeof arg === "bigint" || arg > 64) throw malformed("map too long");
      const entries = [];
      for (let i = 0; i < arg; i++) {
        let k, v;
        [k, pos] = decodeItem(buf, pos, depth + 1);
        [v, pos] = decodeItem(buf, pos, depth + 1);
        if (k.t !== "int" && k.t !== "text") throw malformed("a map key that is not an integer or text");
        if (entries.some(([k2]) => k2.t === k.t && k2.v === k.v)) throw malformed("a duplicate map key");
        entries.push([k, v]);
      }
      return [{ t: "map", v: entries }, pos];
    }
    case 6: {
      let inner;
      [inner, pos] = decodeItem(buf, pos, depth + 1);
      return [{ t: "tag", tag: arg, v: inner }, pos];
    }
    default:
      throw malformed("floats and simple values are refused");
  }
}

/** One CBOR item that is the whole buffer. */
export function decodeCbor(buf) {
  const [item, end] = decodeItem(buf, 0, 0);
  if (end !== buf.length) throw malformed("trailing bytes");
  return item;
}

function bstrHeader(len) {
  if (len < 24) return [0x40 | len];
  if (len < 0x100) return [0x58, len];
  return [0x59, len >> 8, len & 0xff];
}

/** `["Signature1", protected, h'', payload]` (RFC 9052 §4.4, external_aad empty). */
export function sigStructure(protectedBytes, payload) {
  const label = new TextEncoder().encode("Signature1");
  return Uint8Array.from([
    0x84,
    0x60 | label.length,
    ...label,
    ...bstrHeader(protectedBytes.length),
    ...protectedBytes,
    0x40,
    ...bstrHeader(payload.length),
    ...payload,
  ]);
}

// ---- keys ----------------------------------------------------------------------------------------

const subtle = () => globalThis.crypto.subtle;

/** The 8-byte kid of a P-256 JWK: the first 8 bytes of its RFC 7638 thumbprint, base64url. */
export async function kidOf(jwk) {
  const canonical = `{"crv":"P-256","kty":"EC","x":"${jwk.x}","y":"${jwk.y}"}`;
  const digest = new Uint8Array(await subtle().digest("SHA-256", new TextEncoder().encode(canonical)));
  return b64url(digest.slice(0, 8));
}

/**
 * Imports a JWKS as the card-format crate does: EC P-256 keys only (others skipped), `alg`
 * ES256 and `use` sig when present, a `kid` that is the key's own thumbprint prefix, a point on
 * the curve (WebCrypto refuses one that is not). Returns Map(kid → CryptoKey); no usable key is
 * an error.
 */
export async function importJwks(jwks) {
  if (!jwks || !Array.isArray(jwks.keys)) throw new Error("not a JWKS");
  const keys = new Map();
  for (const k of jwks.keys) {
    if (k.kty !== "EC") continue;
    if (k.crv !== "P-256") throw new Error(`key ${k.kid}: not P-256`);
    if (k.alg !== undefined && k.alg !== "ES256") throw new Error(`key ${k.kid}: alg is not ES256`);
    if (k.use !== undefined && k.use !== "sig") throw new Error(`key ${k.kid}: use is not sig`);
    if (typeof k.x !== "string" || typeof k.y !== "string" || (await kidOf(k)) !== k.kid) {
      throw new Error(`key ${k.kid}: kid is not its thumbprint`);
    }
    const key = await subtle().importKey(
      "jwk",
      { kty: "EC", crv: "P-256", x: k.x, y: k.y, ext: true },
      { name: "ECDSA", namedCurve: "P-256" },
      false,
      ["verify"],
    );
    keys.set(k.kid, key);
  }
  if (keys.size === 0) throw new Error("no usable key in the JWKS");
  return keys;
}

// ---- the card ------------------------------------------------------------------------------------

const ABO = ["unknown", "A", "B", "O", "AB"];
const RH = ["unknown", "+", "-"];
// Bit 4 is the legacy "DNAR or ACP" of cards issued before DNAR (64) and ACP (128) had bits of
// their own: shown as "advance directive on file — check the record", never as DNAR (card-format §1).
export const FLAGS = [
  [1, "anticoagulant"],
  [2, "severe_allergy"],
  [4, "advance_directive_unspecified"],
  [8, "implanted_device"],
  [16, "insulin"],
  [32, "epilepsy"],
  [64, "dnar"],
  [128, "acp"],
];
// The order the issuer writes claims in (card-format crate), so one card has one encoding.
const CLAIM_ORDER = [1n, 4n, 6n, 7n, -65537n, -65538n];

const uint = (item, what) => {
  if (item.t !== "int" || item.v < 0n) throw malformed(`${what}: not an unsigned integer`);
  return item.v;
};

function claimsOf(payload) {
  const map = decodeCbor(payload);
  if (map.t !== "map") throw malformed("the claims are not a map");
  const keys = map.v.map(([k]) => {
    if (k.t !== "int") throw malformed("a claim with a text key");
    return k.v;
  });
  const idx = keys.map((k) => CLAIM_ORDER.indexOf(k));
  const version = map.v.find(([k]) => k.v === -65537n);
  if (!version) throw malformed("no format version");
  if (version[1].t !== "int" || version[1].v !== 1n) throw new CardError("unsupported_version");
  if (idx.some((i) => i < 0)) throw malformed("an unexpected claim");
  if (idx.some((i, n) => n > 0 && i <= idx[n - 1])) throw malformed("claims out of order");
  const get = (k) => map.v.find(([key]) => key.v === k)?.[1];
  const out = { iss: null, iat: null, triage: null };
  const iss = get(1n);
  if (iss) {
    if (iss.t !== "text" || !/^[A-Za-z0-9._:/-]{1,32}$/.test(iss.v)) throw malformed("iss");
    out.iss = iss.v;
  }
  const exp = get(4n);
  if (!exp) throw malformed("no exp");
  out.exp = Number(uint(exp, "exp"));
  const iat = get(6n);
  if (iat) {
    out.iat = Number(uint(iat, "iat"));
    if (out.iat >= out.exp) throw malformed("iat is not before exp");
  }
  const cti = get(7n);
  if (!cti || cti.t !== "bytes" || cti.v.length !== 16) throw malformed("cti: not 16 bytes");
  out.cardId = hex(cti.v);
  const triage = get(-65538n);
  if (triage) {
    if (triage.t !== "array" || triage.v.length !== 3) throw malformed("triage core");
    const [abo, rh, flags] = triage.v.map((x) => Number(uint(x, "triage core")));
    if (abo >= ABO.length || rh >= RH.length || flags >= 256) throw malformed("triage core out of range");
    out.triage = {
      abo: ABO[abo],
      rh: RH[rh],
      bloodType: abo === 0 ? "?" : `${ABO[abo]}${rh === 0 ? "?" : RH[rh]}`,
      flags: FLAGS.filter(([bit]) => flags & bit).map(([, name]) => name),
    };
  }
  return out;
}

/**
 * `verify(bytes, keys, now)` of card-format §3, in the same order: oversize, malformed,
 * wrong_algorithm, unknown_kid, bad_signature, unsupported_version / malformed claims, expired.
 * `keys`: Map(kid → CryptoKey) from `importJwks`. Resolves to the card, or throws a CardError.
 */
export async function verifyCard(bytes, keys, now) {
  if (bytes.length > MAX_COSE) throw new CardError("oversize");
  const msg = decodeCbor(bytes);
  if (msg.t !== "tag" || msg.tag !== 18) throw malformed("not a tagged COSE_Sign1");
  if (msg.v.t !== "array" || msg.v.v.length !== 4) throw malformed("not a COSE_Sign1 array");
  const [prot, unprot, payload, sig] = msg.v.v;
  if (prot.t !== "bytes" || payload.t !== "bytes" || sig.t !== "bytes") throw malformed("COSE_Sign1 parts");
  const header = decodeCbor(prot.v);
  if (header.t !== "map") throw malformed("protected header");
  const alg = header.v.find(([k]) => k.v === 1n);
  if (!alg || alg[1].t !== "int" || alg[1].v !== -7n) throw new CardError("wrong_algorithm");
  const kidEntry = header.v.find(([k]) => k.v === 4n);
  const onlyAlgKid = header.v.length === 2 && header.v[0][0].v === 1n && header.v[1][0].v === 4n;
  if (!kidEntry || !onlyAlgKid) throw malformed("protected header: only alg and kid");
  if (unprot.t !== "map" || unprot.v.length !== 0) throw malformed("unprotected header is not empty");
  if (kidEntry[1].t !== "bytes" || kidEntry[1].v.length !== 8) throw malformed("kid: not 8 bytes");
  const kid = b64url(kidEntry[1].v);
  const key = keys.get(kid);
  if (!key) throw new CardError("unknown_kid", kid);
  if (sig.v.length !== 64) throw new CardError("bad_signature");
  const ok = await subtle().verify(
    { name: "ECDSA", hash: "SHA-256" },
    key,
    sig.v,
    sigStructure(prot.v, payload.v),
  );
  if (!ok) throw new CardError("bad_signature");
  const claims = claimsOf(payload.v);
  if (now >= claims.exp) throw new CardError("expired");
  return { kid, ...claims };
}

/** A revocation list (`GET /api/v1/revocations/{kid}`) applied to a verified card. */
export function checkRevocation(card, list) {
  if (!list || list.kid !== card.kid) return { checked: false };
  if (list.key_status === "compromised") throw new CardError("key_compromised");
  if ((list.revoked || []).includes(card.cardId)) throw new CardError("revoked");
  return { checked: true, generatedAt: list.generated_at };
}

/** Web NFC records (NDEFReader) to the card's bytes: the external record, else the URI. */
export function cardBytesFromNdef(records) {
  let uri = null;
  for (const r of records) {
    const data = r.data ? new Uint8Array(r.data.buffer, r.data.byteOffset, r.data.byteLength) : null;
    if (!data) continue;
    if (r.recordType === "kyukit.jp:c") return data.slice();
    if (r.recordType === "url" || r.recordType === "absolute-url") {
      // Web NFC expands the URI prefix byte; a raw record may still carry 0x04 (https://).
      const text = new TextDecoder().decode(data[0] === 0x04 ? data.slice(1) : data);
      uri = data[0] === 0x04 ? `https://${text}` : text;
    }
  }
  if (uri !== null) return cardBytesFrom(uri);
  throw new CardError("not_a_card", "no Kyukit record on this tag");
}
