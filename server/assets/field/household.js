// The household sticker (玄関ステッカー, issue 27; docs/card-format.md §9): a signed pointer at a
// home's entrance. The app verifies it offline (the same COSE_Sign1 rules as a card, then the
// sticker's own claims: version 1, kind 1 = household, a 16-byte id, iat, optional iss — nothing
// else), then asks the server (signed, audited: `POST /api/v1/household-scans`) who lives there.
// Each listed member is a button; picking one is an ordinary scan of that member's card.
// Strings are here, ja and en, so the module stands on its own.

import { b64url, CardError, decodeCbor, digitsToBytes, importJwks, MAX_COSE, sigStructure } from "./card.js";
import { getLang } from "./i18n.js";

const WORDS = {
  ja: {
    title: "玄関ステッカー（世帯）",
    genuine: "✔ 本物の玄関ステッカーです",
    notGenuine: "✖ 本物の玄関ステッカーではありません",
    noKeys: "発行元の鍵がまだありません。オンラインで開き直してください。",
    loginFirst: "世帯の一覧にはログインとオンライン接続が必要です。",
    fetching: "この家に住む方を確認しています…",
    pick: "傷病者を選んでください（選ぶとその方のカードを読み取ります）",
    nobody: "この世帯で一覧に載る方はいません。",
    age: (n) => `${n}歳`,
    sex: { female: "女性", male: "男性", other: "その他", unknown: "不明" },
    photo: "本人確認用の写真",
    refused: { sticker_revoked: "このステッカーは失効しています。", sticker_unknown: "このステッカーはこの市の発行ではありません。", sticker_not_genuine: "本物のステッカーではありません。" },
    failed: "一覧を取得できませんでした",
  },
  en: {
    title: "Household sticker (entrance)",
    genuine: "✔ Genuine household sticker",
    notGenuine: "✖ Not a genuine household sticker",
    noKeys: "No issuer keys yet. Open the app again while online.",
    loginFirst: "Listing the household needs a login and the server.",
    fetching: "Checking who lives here…",
    pick: "Pick the patient (this reads their card)",
    nobody: "Nobody is listed for this household.",
    age: (n) => `${n} y`,
    sex: { female: "female", male: "male", other: "other", unknown: "unknown" },
    photo: "Photo for identity check",
    refused: { sticker_revoked: "This sticker has been revoked.", sticker_unknown: "This sticker was not issued here.", sticker_not_genuine: "Not a genuine sticker." },
    failed: "Could not list the household",
  },
};
const w = () => WORDS[getLang()] || WORDS.ja;

const CLAIM_VERSION = -65537n;
const CLAIM_KIND = -65539n;

/** The sticker's digits if `text` is a household sticker URL (`…/h/<digits>`), else null. */
export function householdDigits(text) {
  const m = /^https?:\/\/[^/?#\s]+(?:\/[^?#\s]*)?\/h\/([0-9]+)\/?$/i.exec(String(text || "").trim());
  return m ? m[1] : null;
}

/** Verifies a household sticker (COSE_Sign1 ES256) with `keys`; returns {kid, id, iat, iss}. */
export async function verifyHousehold(bytes, keys) {
  const bad = (why) => new CardError("malformed", why);
  if (bytes.length > MAX_COSE) throw new CardError("oversize");
  const msg = decodeCbor(bytes);
  if (msg.t !== "tag" || msg.tag !== 18 || msg.v.t !== "array" || msg.v.v.length !== 4) throw bad("not a COSE_Sign1");
  const [prot, unprot, payload, sig] = msg.v.v;
  if (prot.t !== "bytes" || payload.t !== "bytes" || sig.t !== "bytes") throw bad("COSE_Sign1 parts");
  const header = decodeCbor(prot.v);
  const ok2 = header.t === "map" && header.v.length === 2 && header.v[0][0].v === 1n && header.v[1][0].v === 4n;
  if (!ok2 || header.v[0][1].v !== -7n) throw new CardError("wrong_algorithm");
  if (unprot.t !== "map" || unprot.v.length !== 0) throw bad("unprotected header");
  const kidBytes = header.v[1][1];
  if (kidBytes.t !== "bytes" || kidBytes.v.length !== 8) throw bad("kid");
  const kid = b64url(kidBytes.v);
  const key = keys.get(kid);
  if (!key) throw new CardError("unknown_kid", kid);
  if (sig.v.length !== 64) throw new CardError("bad_signature");
  const good = await crypto.subtle.verify({ name: "ECDSA", hash: "SHA-256" }, key, sig.v, sigStructure(prot.v, payload.v));
  if (!good) throw new CardError("bad_signature");
  const claims = decodeCbor(payload.v);
  if (claims.t !== "map") throw bad("claims");
  const get = (k) => claims.v.find(([n]) => n.v === k)?.[1];
  const allowed = [1n, 6n, 7n, CLAIM_VERSION, CLAIM_KIND];
  if (!claims.v.every(([n]) => allowed.includes(n.v))) throw bad("unexpected claim");
  if (get(CLAIM_VERSION)?.v !== 1n) throw bad("format version");
  if (get(CLAIM_KIND)?.v !== 1n) throw bad("not a household sticker");
  const id = get(7n);
  const iat = get(6n);
  if (!id || id.t !== "bytes" || id.v.length !== 16 || !iat || iat.t !== "int") throw bad("cti or iat");
  const iss = get(1n);
  return { kid, id: [...id.v].map((b) => b.toString(16).padStart(2, "0")).join(""), iat: Number(iat.v), iss: iss?.v ?? null };
}

function el(tag, attrs = {}, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === null || v === undefined || v === false) continue;
    if (k === "class") e.className = v;
    else if (k === "text") e.textContent = v;
    else if (k.startsWith("on")) e.addEventListener(k.slice(2), v);
    else e.setAttribute(k, v === true ? "" : v);
  }
  for (const c of children.flat()) if (c !== null && c !== undefined) e.append(c);
  return e;
}

let photoUrls = [];
function dropPhotos() {
  for (const u of photoUrls) URL.revokeObjectURL(u);
  photoUrls = [];
}

/** Hides the household view (another card was read). */
export function closeHousehold() {
  dropPhotos();
  const box = document.getElementById("household");
  if (box) {
    box.hidden = true;
    box.replaceChildren();
  }
}

/**
 * Shows a household sticker: `digits` from its URL. `env`: {signed(method, path, body) → Response,
 * jwks() → {jwks}|null, loggedIn(), online(), incidentRef(), pick(cardB64url)}.
 */
export async function openHousehold(digits, env) {
  dropPhotos();
  const box = document.getElementById("household");
  box.hidden = false;
  const head = el("h2", { id: "household-h", text: w().title });
  const verdict = el("div", { class: "verdict", tabindex: "-1", "data-verdict": "checking" });
  const list = el("div", { id: "household-list" });
  box.replaceChildren(head, verdict, list);
  let bytes;
  try {
    bytes = digitsToBytes(digits);
    const rec = await env.jwks();
    if (!rec) {
      verdict.className = "verdict warn";
      verdict.dataset.verdict = "no_keys";
      verdict.replaceChildren(el("p", { text: w().noKeys }));
      return;
    }
    await verifyHousehold(bytes, await importJwks(rec.jwks));
  } catch (e) {
    verdict.className = "verdict bad";
    verdict.dataset.verdict = "not_genuine";
    verdict.replaceChildren(el("p", {}, el("strong", { class: "verdict-head", text: w().notGenuine })), el("p", { text: e.code || "" }));
    verdict.focus();
    return;
  }
  verdict.className = "verdict ok";
  verdict.dataset.verdict = "genuine";
  verdict.replaceChildren(el("p", {}, el("strong", { class: "verdict-head", text: w().genuine })));
  verdict.focus();
  if (!env.loggedIn() || !env.online()) {
    list.replaceChildren(el("p", { class: "muted", text: w().loginFirst }));
    return;
  }
  list.replaceChildren(el("p", { class: "muted", text: w().fetching }));
  let listing;
  try {
    const r = await env.signed("POST", "/api/v1/household-scans", { sticker: b64url(bytes), incident_ref: env.incidentRef() });
    const body = await r.json().catch(() => ({}));
    if (!r.ok) {
      list.replaceChildren(el("p", { class: "error", role: "alert", "data-error": body.error || "", text: w().refused[body.error] || `${w().failed}: ${body.message || r.status}` }));
      return;
    }
    listing = body;
  } catch (e) {
    list.replaceChildren(el("p", { class: "error", role: "alert", text: `${w().failed}: ${e.message || e}` }));
    return;
  }
  if (!listing.members.length) {
    list.replaceChildren(el("p", { "data-members": "0", text: w().nobody }));
    return;
  }
  const items = listing.members.map((m) => {
    const name = `${m.family_name} ${m.given_name}`;
    const kana = [m.family_name_kana, m.given_name_kana].filter(Boolean).join(" ");
    let img = null;
    if (m.photo_jpeg) {
      const raw = Uint8Array.from(atob(m.photo_jpeg), (c) => c.charCodeAt(0));
      const url = URL.createObjectURL(new Blob([raw], { type: "image/jpeg" }));
      photoUrls.push(url);
      img = el("img", { src: url, alt: `${w().photo}: ${name}`, class: "member-photo", width: "72" });
    }
    const pick = () => env.pick(m.card);
    return el(
      "li",
      {},
      el(
        "button",
        { type: "button", class: "big member", "data-member": name, onclick: pick },
        img,
        el("span", { class: "member-name", translate: "no", text: name }),
        kana ? el("span", { class: "muted", translate: "no", text: ` ${kana}` }) : null,
        el("span", { text: `　${w().age(m.age)}・${w().sex[m.sex] || m.sex}` }),
      ),
    );
  });
  list.replaceChildren(el("p", { text: w().pick }), el("ul", { class: "members", "data-members": String(items.length) }, items));
}
