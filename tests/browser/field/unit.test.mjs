// The PWA's pure modules under Node's test runner (Node's WebCrypto is the same API):
// card.js against the card-format golden vectors (card-format/tests/vectors/*.json, also checked
// by the Rust crate and by Python's cryptography + cbor2), httpsig.js against the protocol's
// documented example (docs/device-protocol.md) and RFC 9421's P-256 test key, net.js (what
// "online" means: the server answers) against a stand-in fetch, and i18n.js for key parity between
// Japanese and English.
//   node --test tests/browser/field/unit.test.mjs

import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import test from "node:test";
import { fileURLToPath } from "node:url";

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../..");
const ASSETS = path.join(ROOT, "server/assets/field");
const card = await import(path.join(ASSETS, "card.js"));
const sig = await import(path.join(ASSETS, "httpsig.js"));
// i18n.js touches `localStorage`/`document` only when called; importing is safe.
const { STRINGS } = await import(path.join(ASSETS, "i18n.js"));
// net.js touches `window` only in start(); its factory takes a fetch to stand in for the server.
const { createNet, NetworkError, OFFLINE_COPY } = await import(path.join(ASSETS, "net.js"));

const vectors = ["pointer", "triage", "issuer-all-flags", "triage-dnar", "triage-acp", "legacy-dnar-or-acp"].map((n) =>
  JSON.parse(fs.readFileSync(path.join(ROOT, "card-format/tests/vectors", `${n}.json`), "utf8")),
);

test("every golden vector verifies, with the claims the vector states", async () => {
  for (const v of vectors) {
    const keys = await card.importJwks(v.jwks);
    const bytes = card.fromHex(v.cose_hex);
    assert.equal(bytes.length, v.cose_len);
    const c = await card.verifyCard(bytes, keys, v.verify_at);
    assert.equal(c.kid, v.claims.kid);
    assert.equal(c.cardId, v.claims.cti);
    assert.equal(c.exp, v.claims.exp);
    assert.equal(c.iat, v.claims.iat);
    if (v.claims.triage) {
      assert.equal(c.triage.bloodType, v.claims.triage.blood_type);
      assert.deepEqual(c.triage.flags, v.claims.triage.flags);
    } else {
      assert.equal(c.triage, null);
    }
    // The URL's digits unpack to the same bytes, and the bytes pack back to the same digits.
    const digits = v.url.split("/").pop();
    assert.deepEqual(card.cardBytesFrom(v.url), bytes);
    assert.deepEqual(card.cardBytesFrom(v.url.toLowerCase()), bytes);
    assert.equal(card.bytesToDigits(bytes), digits);
  }
});

test("the triage vector decodes to A+ with anticoagulant and implanted device", async () => {
  const v = vectors[1];
  const c = await card.verifyCard(card.fromHex(v.cose_hex), await card.importJwks(v.jwks), v.verify_at);
  assert.equal(c.triage.bloodType, "A+");
  assert.deepEqual(c.triage.flags, ["anticoagulant", "implanted_device"]);
  const all = vectors[2];
  const c2 = await card.verifyCard(card.fromHex(all.cose_hex), await card.importJwks(all.jwks), all.verify_at);
  assert.equal(c2.triage.bloodType, "AB-");
  assert.equal(c2.triage.flags.length, 6);
  assert.equal(c2.iss, "jp-082163");
});

test("every single-bit flip of every vector is refused", async () => {
  let refused = 0;
  for (const v of vectors) {
    const keys = await card.importJwks(v.jwks);
    const good = card.fromHex(v.cose_hex);
    for (let i = 0; i < good.length * 8; i++) {
      const bad = good.slice();
      bad[i >> 3] ^= 1 << (i & 7);
      await assert.rejects(card.verifyCard(bad, keys, v.verify_at), card.CardError, `bit ${i} of ${v.name}`);
      refused++;
    }
  }
  assert.equal(refused, (122 + 131 + 143 + 132 + 132 + 131) * 8);
});

test("DNAR and ACP are separate flags; the old combined bit never reads as DNAR", async () => {
  const flagsOf = async (v) => (await card.verifyCard(card.fromHex(v.cose_hex), await card.importJwks(v.jwks), v.verify_at)).triage.flags;
  const [dnar, acp, legacy, all] = [vectors[3], vectors[4], vectors[5], vectors[2]];
  assert.deepEqual(await flagsOf(dnar), ["dnar"]);
  assert.deepEqual(await flagsOf(acp), ["acp"]);
  assert.deepEqual(await flagsOf(legacy), ["advance_directive_unspecified"]);
  assert.ok(!(await flagsOf(all)).includes("dnar"));
  // What a paramedic reads, in both languages: DNAR only for the DNAR card.
  for (const lang of Object.keys(STRINGS)) {
    for (const f of ["acp", "advance_directive_unspecified"]) assert.doesNotMatch(STRINGS[lang][`flag.${f}`], /DNAR/i, `${lang} ${f}`);
    assert.match(STRINGS[lang]["flag.dnar"], /DNAR/);
  }
});

test("expiry, unknown keys, truncation and oversize are refused with their codes", async () => {
  const v = vectors[0];
  const keys = await card.importJwks(v.jwks);
  const bytes = card.fromHex(v.cose_hex);
  await assert.rejects(card.verifyCard(bytes, keys, v.claims.exp), { code: "expired" });
  await card.verifyCard(bytes, keys, v.claims.exp - 1);
  await assert.rejects(card.verifyCard(bytes, new Map(), v.verify_at), { code: "unknown_kid" });
  for (let n = 0; n < bytes.length; n++) {
    await assert.rejects(card.verifyCard(bytes.slice(0, n), keys, v.verify_at), card.CardError);
  }
  await assert.rejects(card.verifyCard(new Uint8Array(513), keys, v.verify_at), { code: "oversize" });
  // Trailing bytes break the single encoding.
  await assert.rejects(card.verifyCard(Uint8Array.from([...bytes, 0]), keys, v.verify_at), { code: "malformed" });
});

test("a JWKS whose kid is not the key's thumbprint is refused", async () => {
  const jwks = structuredClone(vectors[0].jwks);
  jwks.keys[0].kid = "AAAAAAAAAAA";
  await assert.rejects(card.importJwks(jwks));
  const other = structuredClone(vectors[0].jwks);
  other.keys[0].alg = "ES384";
  await assert.rejects(card.importJwks(other));
  await assert.rejects(card.importJwks({ keys: [{ kty: "RSA", n: "x", e: "AQAB" }] }), /no usable key/);
});

test("digit packing refuses non-canonical forms", () => {
  assert.throws(() => card.digitsToBytes("12"), { code: "malformed" }); // 2 digits: no such tail
  assert.throws(() => card.digitsToBytes("999"), { code: "malformed" }); // 999 ≥ 2^8
  assert.deepEqual(card.digitsToBytes("255"), Uint8Array.from([255]));
  assert.throws(() => card.cardBytesFrom("https://example.org/x/123"), { code: "not_a_card" });
});

test("revocation lists: a listed card and a compromised key are refused", async () => {
  const v = vectors[0];
  const c = await card.verifyCard(card.fromHex(v.cose_hex), await card.importJwks(v.jwks), v.verify_at);
  assert.deepEqual(card.checkRevocation(c, { kid: c.kid, key_status: "active", revoked: [], generated_at: 1 }), { checked: true, generatedAt: 1 });
  assert.throws(() => card.checkRevocation(c, { kid: c.kid, key_status: "active", revoked: [c.cardId] }), { code: "revoked" });
  assert.throws(() => card.checkRevocation(c, { kid: c.kid, key_status: "compromised", revoked: [] }), { code: "key_compromised" });
  assert.deepEqual(card.checkRevocation(c, undefined), { checked: false });
});

test("NFC records: the external record's bytes win, else the URI record", () => {
  const v = vectors[1];
  const bytes = card.fromHex(v.cose_hex);
  const view = (u8) => new DataView(u8.buffer, u8.byteOffset, u8.byteLength);
  const url = new TextEncoder().encode(v.url.replace(/^HTTPS:\/\//, "https://"));
  assert.deepEqual(card.cardBytesFromNdef([{ recordType: "url", data: view(url) }, { recordType: "kyukit.jp:c", data: view(bytes) }]), bytes);
  assert.deepEqual(card.cardBytesFromNdef([{ recordType: "url", data: view(url) }]), bytes);
  assert.throws(() => card.cardBytesFromNdef([{ recordType: "text", data: view(url) }]), { code: "not_a_card" });
});

// ---- httpsig ------------------------------------------------------------------------------------

test("the documented login example's signature base is exactly what we sign", async () => {
  const doc = fs.readFileSync(path.join(ROOT, "docs/device-protocol.md"), "utf8");
  const block = /Example signature base[\s\S]*?```\n([\s\S]*?)\n```/.exec(doc)[1];
  const params = /"@signature-params": (.*)$/m.exec(block)[1];
  const created = Number(/created=(\d+)/.exec(params)[1]);
  const nonce = /nonce="([^"]+)"/.exec(params)[1];
  const keyid = /keyid="([^"]+)"/.exec(params)[1];
  const pair = await sig.generateDeviceKey();
  const body = '{"hello": "world"}';
  const { headers, base } = await sig.signRequest({
    method: "post",
    url: "http://127.0.0.1:8080/api/v1/sessions",
    body,
    privateKey: pair.privateKey,
    keyid,
    created,
    nonce,
  });
  assert.equal(base, block);
  assert.equal(headers["Content-Digest"], "sha-256=:X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBPE=:");
  assert.equal(headers["Signature-Input"], `kyukit=${params}`);
  // The signature is 64 bytes r‖s and verifies with the public key.
  const raw = Buffer.from(/^kyukit=:(.*):$/.exec(headers.Signature)[1], "base64");
  assert.equal(raw.length, 64);
  assert.ok(await crypto.subtle.verify({ name: "ECDSA", hash: "SHA-256" }, pair.publicKey, raw, new TextEncoder().encode(base)));
});

test("components: query, authorization, no digest without a body, default ports dropped", async () => {
  const pair = await sig.generateDeviceKey();
  const { headers, base } = await sig.signRequest({
    method: "GET",
    url: "https://Example.COM:443/api/v1/accesses/ab%20cd?lang=ja&x=1",
    authorization: "Bearer tok ",
    privateKey: pair.privateKey,
    keyid: "k",
    created: 1,
    nonce: "n".repeat(22),
  });
  assert.equal(headers["Content-Digest"], undefined);
  assert.equal(
    base,
    [
      '"@method": GET',
      '"@authority": example.com',
      '"@path": /api/v1/accesses/ab%20cd',
      '"@query": ?lang=ja&x=1',
      '"authorization": Bearer tok',
      `"@signature-params": ("@method" "@authority" "@path" "@query" "authorization");created=1;nonce="${"n".repeat(22)}";keyid="k";alg="ecdsa-p256-sha256"`,
    ].join("\n"),
  );
  assert.match(sig.newNonce(), /^[A-Za-z0-9_-]{22}$/);
});

test("the device key is not extractable, its public half is a bare P-256 JWK", async () => {
  const pair = await sig.generateDeviceKey();
  assert.equal(pair.privateKey.extractable, false);
  await assert.rejects(crypto.subtle.exportKey("jwk", pair.privateKey));
  const jwk = await sig.publicJwk(pair);
  assert.deepEqual(Object.keys(jwk).sort(), ["crv", "kty", "x", "y"]);
});

test("RFC 9421's P-256 test key: our signature verifies under the RFC's public key", async () => {
  // Appendix B.1.3 test-key-ecc-p256 (public material of the RFC).
  const jwk = {
    kty: "EC",
    crv: "P-256",
    x: "qIVYZVLCrPZHGHjP17CTW0_-D9Lfw0EkjqF7xB4FivA",
    y: "Mc4nN9LTDOBhfoUeg8Ye9WedFRhnZXZJA12Qp0zZ6F0",
    d: "UpuF81l-kOxbjf7T4mNSv0r5tN67Gim7rnf6EFpcYDs",
  };
  const priv = await crypto.subtle.importKey("jwk", jwk, { name: "ECDSA", namedCurve: "P-256" }, false, ["sign"]);
  const pub = await crypto.subtle.importKey("jwk", { kty: "EC", crv: "P-256", x: jwk.x, y: jwk.y }, { name: "ECDSA", namedCurve: "P-256" }, false, ["verify"]);
  const { headers, base } = await sig.signRequest({ method: "POST", url: "http://127.0.0.1:1/api/v1/scans", body: "{}", privateKey: priv, keyid: "test-key-ecc-p256", created: 1618884473, nonce: "abcdefghijklmnop" });
  const raw = Buffer.from(/^kyukit=:(.*):$/.exec(headers.Signature)[1], "base64");
  assert.ok(await crypto.subtle.verify({ name: "ECDSA", hash: "SHA-256" }, pub, raw, new TextEncoder().encode(base)));
});

// ---- net: "online" means the server answers --------------------------------------------------------

/** A fetch whose answers are given one by one: a status, a Response, an Error, or "hang". */
function fakeFetch(...answers) {
  const calls = [];
  const fn = (url, init = {}) => {
    calls.push(String(url));
    const a = answers.length > 1 ? answers.shift() : answers[0];
    if (a === "hang") {
      return new Promise((_, reject) => init.signal?.addEventListener("abort", () => reject(new DOMException("aborted", "AbortError"))));
    }
    if (a instanceof Error) return Promise.reject(a);
    return Promise.resolve(a instanceof Response ? a : new Response("{}", { status: a }));
  };
  fn.calls = calls;
  return fn;
}

test("net: unknown until the probe answers; any HTTP answer is online, a refused connection no server", async () => {
  const changes = [];
  const up = createNet({ fetchFn: fakeFetch(200) });
  up.onChange((s, prev) => changes.push(`${prev}→${s}`));
  assert.equal(up.state(), "checking");
  assert.equal(await up.probe(), "online");
  assert.deepEqual(changes, ["checking→online"]);
  const f = fakeFetch(new TypeError("Failed to fetch"), 200);
  const down = createNet({ fetchFn: f });
  assert.equal(await down.settled(), "no_server", "navigator.onLine is not false here: the network may be up");
  assert.deepEqual(f.calls, ["/healthz"]);
  assert.equal(await down.probe(), "online");
});

test("net: a probe with no answer within the timeout, or a proxy's 502/504, is no server", async () => {
  const slow = createNet({ fetchFn: fakeFetch("hang"), timeoutMs: 20 });
  assert.equal(await slow.probe(), "no_server");
  assert.equal(await createNet({ fetchFn: fakeFetch(502) }).probe(), "no_server");
  assert.equal(await createNet({ fetchFn: fakeFetch(504) }).probe(), "no_server");
  assert.equal(await createNet({ fetchFn: fakeFetch(503) }).probe(), "online"); // the server itself said so
});

test("net.fetch: real requests update the state; failures become NetworkError, aborts pass through", async () => {
  const n = createNet({ fetchFn: fakeFetch(401, new TypeError("Failed to fetch"), new DOMException("x", "AbortError"), 200) });
  assert.equal((await n.fetch("/api/v1/sessions")).status, 401);
  assert.equal(n.state(), "online", "a refusal is still an answer");
  await assert.rejects(n.fetch("/api/v1/scans"), (e) => e instanceof NetworkError && e.cause instanceof TypeError);
  assert.equal(n.state(), "no_server");
  assert.ok(n.unreachable() && !n.online());
  await assert.rejects(n.fetch("/api/v1/crew/feed"), { name: "AbortError" });
  assert.equal(n.state(), "no_server", "an abort says nothing about the server");
  await n.fetch("/api/v1/hospitals");
  assert.equal(n.state(), "online");
});

test("net.fetch: the service worker's cached copy (network down) is not the server answering", async () => {
  const copy = new Response("{}", { status: 200, headers: { [OFFLINE_COPY]: "1" } });
  const n = createNet({ fetchFn: fakeFetch(copy) });
  const r = await n.fetch("/.well-known/jwks.json");
  assert.equal(r.status, 200);
  assert.equal(n.state(), "no_server");
});

test("net: offline when the browser says it has no network, no server when it says it has one", async () => {
  const saved = Object.getOwnPropertyDescriptor(globalThis, "navigator");
  const as = (onLine) => Object.defineProperty(globalThis, "navigator", { value: { onLine }, configurable: true });
  try {
    as(false);
    assert.equal(await createNet({ fetchFn: fakeFetch(new TypeError("Failed to fetch")) }).probe(), "offline");
    as(true);
    assert.equal(await createNet({ fetchFn: fakeFetch(new TypeError("Failed to fetch")) }).probe(), "no_server");
    // The browser's "offline" is not believed over an answer from the server.
    as(false);
    assert.equal(await createNet({ fetchFn: fakeFetch(200) }).probe(), "online");
  } finally {
    if (saved) Object.defineProperty(globalThis, "navigator", saved);
    else delete globalThis.navigator;
  }
});

test("net: one probe at a time; listeners hear changes only", async () => {
  const f = fakeFetch(200);
  const n = createNet({ fetchFn: f });
  let heard = 0;
  n.onChange(() => heard++);
  await Promise.all([n.probe(), n.probe(), n.settled()]);
  assert.equal(f.calls.length, 1);
  await n.probe();
  assert.equal(heard, 1);
  for (const s of ["checking", "online", "no_server", "offline"]) assert.ok(STRINGS.ja[`net.${s}`] && STRINGS.en[`net.${s}`], s);
});

// ---- i18n ---------------------------------------------------------------------------------------

test("Japanese and English have the same keys, none empty, with the same {placeholders}", () => {
  const ja = Object.keys(STRINGS.ja).sort();
  const en = Object.keys(STRINGS.en).sort();
  assert.deepEqual(ja, en);
  for (const k of ja) {
    assert.ok(STRINGS.ja[k].trim() && STRINGS.en[k].trim(), k);
    const vars = (s) => [...s.matchAll(/\{(\w+)\}/g)].map((m) => m[1]).sort();
    assert.deepEqual(vars(STRINGS.ja[k]), vars(STRINGS.en[k]), k);
  }
});

test("every data-i18n key in the pages and every t('…') key in the scripts exists", () => {
  const used = new Set();
  for (const f of ["field.html", "ed.html"]) {
    const html = fs.readFileSync(path.join(ASSETS, f), "utf8");
    for (const m of html.matchAll(/data-i18n(?:-placeholder|-aria|-title)?="([^"]+)"/g)) used.add(m[1]);
  }
  for (const f of ["field.js", "ed.js", "dataset.js", "vitals.js", "session.js", "webauthn.js", "nocard.js"]) {
    const js = fs.readFileSync(path.join(ASSETS, f), "utf8");
    for (const m of js.matchAll(/\bt\("([a-zA-Z_.]+)"/g)) used.add(m[1]);
  }
  const missing = [...used].filter((k) => !(k in STRINGS.ja));
  assert.deepEqual(missing, []);
  assert.ok(used.size > 80, `${used.size} keys used`);
});

// ---- a patient without a card: times typed in Japan time (nocard.js) ----------------------------

const { jstTime } = await import(path.join(ASSETS, "nocard.js"));

test("an onset time typed as HH:MM is today in Japan time, or yesterday if it would be ahead", () => {
  const now = Date.UTC(2026, 11, 7, 1, 0); // 10:00 JST on 7 December
  assert.equal(jstTime("09:15", now), Date.UTC(2026, 11, 7, 0, 15) / 1000);
  assert.equal(jstTime("00:05", now), Date.UTC(2026, 11, 6, 15, 5) / 1000); // 00:05 JST today
  assert.equal(jstTime("23:50", now), Date.UTC(2026, 11, 6, 14, 50) / 1000); // yesterday 23:50 JST
  assert.equal(jstTime("", now), undefined);
  assert.equal(jstTime("9h", now), undefined);
});

// ---- the ED board's highlighting (vitals.js; thresholds in docs/ed-board.md) ----------------------

const { vitalLevel, jcsLevel, gcsLevel } = await import(path.join(ASSETS, "vitals.js"));

test("NEWS2 single-parameter bands: score 3 is crit, score 2 warn, at the band edges", () => {
  const cases = [
    ["spo2", 91, "crit"], ["spo2", 92, "warn"], ["spo2", 93, "warn"], ["spo2", 94, null],
    ["respiratory_rate", 8, "crit"], ["respiratory_rate", 9, null], ["respiratory_rate", 20, null],
    ["respiratory_rate", 21, "warn"], ["respiratory_rate", 24, "warn"], ["respiratory_rate", 25, "crit"],
    ["systolic_bp", 90, "crit"], ["systolic_bp", 91, "warn"], ["systolic_bp", 100, "warn"], ["systolic_bp", 101, null],
    ["systolic_bp", 219, null], ["systolic_bp", 220, "crit"],
    ["heart_rate", 40, "crit"], ["heart_rate", 41, null], ["heart_rate", 110, null], ["heart_rate", 111, "warn"],
    ["heart_rate", 130, "warn"], ["heart_rate", 131, "crit"],
    ["temperature", 35.0, "crit"], ["temperature", 35.1, null], ["temperature", 39.0, null], ["temperature", 39.1, "warn"],
    ["glucose", 53, "crit"], ["glucose", 54, "warn"], ["glucose", 69, "warn"], ["glucose", 70, null], ["glucose", 400, null],
    ["diastolic_bp", 30, null],
  ];
  for (const [k, v, want] of cases) assert.equal(vitalLevel(k, v, "80s"), want, `${k} ${v}`);
});

test("children: only SpO2 and glucose are judged (NEWS2 is for adults)", () => {
  assert.equal(vitalLevel("heart_rate", 150, "0-9"), null);
  assert.equal(vitalLevel("respiratory_rate", 40, "10s"), null);
  assert.equal(vitalLevel("spo2", 88, "0-9"), "crit");
  assert.equal(vitalLevel("glucose", 50, "0-9"), "crit");
  assert.equal(vitalLevel("heart_rate", 150, "unknown"), "crit");
});

test("consciousness: not alert is flagged; JCS II/III and GCS ≤ 8 are crit", () => {
  assert.equal(jcsLevel({ level: "0" }), null);
  assert.equal(jcsLevel({ level: "I-1" }), "warn");
  assert.equal(jcsLevel({ level: "I-3" }), "warn");
  assert.equal(jcsLevel({ level: "II-10" }), "crit");
  assert.equal(jcsLevel({ level: "III-300" }), "crit");
  assert.equal(gcsLevel({ total: 15 }), null);
  assert.equal(gcsLevel({ total: 14 }), "warn");
  assert.equal(gcsLevel({ total: 9 }), "warn");
  assert.equal(gcsLevel({ total: 8 }), "crit");
});

// ---- server error codes in words (issue 21) ------------------------------------------------------

// errors.js imports i18n.js (safe to import, as above).
const { API_ERRORS, codeText } = await import(path.join(ASSETS, "errors.js"));

// The server's sources behind the routes the paramedic app calls (enrolment, login, scans and
// the photo, incidents, reports, inquiries, hospitals, the crew feed) and what every request goes
// through (signatures, sessions, body parsing, rate limits, the error mapping).
const PWA_SOURCES = [
  "service/devices.rs", "service/accounts.rs", "service/access.rs", "service/incidents", "service/report",
  "service/idempotency.rs", "service/photo.rs", "service/facilities.rs", "service/disclosure.rs", "service/mod.rs",
  "service/error.rs", "service/security.rs", "api/extract.rs", "api/error.rs", "api/mod.rs", "api/field.rs",
  "api/incidents", "api/accounts.rs", "auth.rs", "ratelimit.rs", "httpsig.rs", "db/mod.rs",
];

/** Every error code those sources can answer with: the code argument of each DomainError
 * constructor (and of the helpers that take one), and `code: "…"` fields. */
function serverCodes() {
  const src = path.join(ROOT, "server/src");
  const files = PWA_SOURCES.flatMap((f) => {
    const p = path.join(src, f);
    assert.ok(fs.existsSync(p), `${f} is gone: update PWA_SOURCES`);
    return fs.statSync(p).isDirectory()
      ? fs.readdirSync(p).filter((x) => x.endsWith(".rs") && x !== "tests.rs").map((x) => path.join(p, x))
      : [p];
  });
  const call = /\b(?:forbidden_code|unauthorized_code|conflict|unprocessable|bad_request|too_large|unsupported_media|with_code|invalid|factor_refusal|new)\(\s*(?:Kind::\w+,\s*)?"([a-z][a-z0-9_]{2,})"/g;
  const field = /\bcode:\s*"([a-z][a-z0-9_]{2,})"/g;
  const codes = new Set();
  for (const f of files) {
    const s = fs.readFileSync(f, "utf8");
    for (const m of s.matchAll(call)) codes.add(m[1]);
    for (const m of s.matchAll(field)) codes.add(m[1]);
  }
  return [...codes].sort();
}

test("every error code the server can send to the paramedic app has Japanese and English words", () => {
  const codes = serverCodes();
  assert.ok(codes.length > 50, `only ${codes.length} codes found: the extraction broke`);
  for (const known of ["enrollment_code_unknown", "version_conflict", "signature_expired", "idempotency_key_reused", "rate_limited", "not_found"]) {
    assert.ok(codes.includes(known), `${known} not found in the sources`);
  }
  const missing = codes.filter((c) => !API_ERRORS.ja[c] || !API_ERRORS.en[c]);
  assert.deepEqual(missing, [], "codes without both translations");
  assert.deepEqual(Object.keys(API_ERRORS.ja).sort(), Object.keys(API_ERRORS.en).sort());
  for (const lang of ["ja", "en"]) {
    for (const [c, s] of Object.entries(API_ERRORS[lang])) {
      assert.ok(s.length > 8 && !(c.includes("_") && s.includes(c)), `${lang} ${c}: words, not the code`);
      if (lang === "en") assert.doesNotMatch(s, /[\u3040-\u30ff\u4e00-\u9fff]/, `${c}: Japanese in English`);
      else assert.match(s, /[\u3040-\u30ff\u4e00-\u9fff]/, `${c}: no Japanese`);
    }
  }
  // What to do next, e.g. asking for a new enrolment code.
  assert.match(codeText("enrollment_code_unknown", "ja"), /登録コードが見つかりません.*新しいコード/);
  assert.match(codeText("enrollment_code_unknown", "en"), /new one/);
  // A code this app does not know yet still reads as words, with the code for support.
  assert.match(codeText("brand_new_code", "ja"), /予期しないエラー（brand_new_code）/);
});

test("trust.js verifies the documented trust-list vector (docs/card-format.md §10) and refuses it expired, tampered or under another key", async () => {
  const trust = await import(path.join(ASSETS, "trust.js"));
  const doc = fs.readFileSync(path.join(ROOT, "docs/card-format.md"), "utf8");
  const block = doc.split("## 10. Trust list")[1].split("### Test vector")[1].split("```")[1];
  const bytes = card.fromHex(block.replace(/\s+/g, ""));
  const b64 = (h) => card.b64url(card.fromHex(h));
  // The RFC 6979 §A.2.5 key's public point.
  const pinned = { kty: "EC", crv: "P-256", x: b64("60fed4ba255a9d31c961eb74c6356d68c049b8923b61fa6ce669622e60f29fb6"), y: b64("7903fe1008b8bc99a41ae9e95628bc64f2f1b20c2d7e9f5177a3c294d4462299") };
  const list = await trust.verifyTrustList(bytes, pinned, 1767225600 + 3600);
  assert.equal(list.version, 3);
  assert.equal(list.deployment.defaultIssuer, "jp-082163");
  assert.deepEqual(list.issuers[0].keys.map((k) => k.status), ["active", "compromised"]);
  assert.equal(list.issuers[0].cardBase, "https://qq.city.joso.lg.jp/c/");
  await assert.rejects(trust.verifyTrustList(bytes, pinned, 1767830400), { code: "trust_list_expired" });
  const bad = bytes.slice();
  bad[bytes.length - 10] ^= 1;
  await assert.rejects(trust.verifyTrustList(bad, pinned, 1767225600), { code: "trust_list_bad_signature" });
  const other = { ...pinned, x: pinned.y, y: pinned.x };
  await assert.rejects(trust.verifyTrustList(bytes, other, 1767225600), { code: "trust_list_unknown_signer" });
});
