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
    dot: "・",
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
    dot: ", ",
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
  view = null;
  const box = document.getElementById("household");
  if (box) {
    box.hidden = true;
    box.replaceChildren();
  }
}

// What the household view shows; painted again when the language changes.
let view = null; // {verdict, code?, state: "keys"|"login"|"fetching"|"refused"|"failed"|"listed", error?, detail?, listing?, env}

/** Paints the household view again (field.js calls it on every render, e.g. a language change). */
export function repaintHousehold() {
  if (view) paint();
}

function paint() {
  const box = document.getElementById("household");
  const v = view;
  box.hidden = false;
  const verdict = el("div", { class: "verdict", tabindex: "-1", "data-verdict": v.verdict });
  if (v.verdict === "genuine") {
    verdict.className = "verdict ok";
    verdict.append(el("p", {}, el("strong", { class: "verdict-head", text: w().genuine })));
  } else if (v.verdict === "no_keys") {
    verdict.className = "verdict warn";
    verdict.append(el("p", { text: w().noKeys }));
  } else if (v.verdict === "not_genuine") {
    verdict.className = "verdict bad";
    verdict.append(el("p", {}, el("strong", { class: "verdict-head", text: w().notGenuine })), el("p", { text: v.code || "" }));
  }
  const list = el("div", { id: "household-list" });
  if (v.state === "login") list.append(el("p", { class: "muted", text: w().loginFirst }));
  if (v.state === "fetching") list.append(el("p", { class: "muted", text: w().fetching }));
  if (v.state === "refused" || v.state === "failed") {
    const text = w().refused[v.error] || `${w().failed}: ${v.detail || ""}`;
    list.append(el("p", { class: "error", role: "alert", "data-error": v.error || "", text }));
  }
  if (v.state === "listed" && !v.listing.members.length) list.append(el("p", { "data-members": "0", text: w().nobody }));
  if (v.state === "listed" && v.listing.members.length) {
    dropPhotos();
    const items = v.listing.members.map((m) => {
      const name = `${m.family_name} ${m.given_name}`;
      const kana = [m.family_name_kana, m.given_name_kana].filter(Boolean).join(" ");
      let img = null;
      if (m.photo_jpeg) {
        const raw = Uint8Array.from(atob(m.photo_jpeg), (c) => c.charCodeAt(0));
        const url = URL.createObjectURL(new Blob([raw], { type: "image/jpeg" }));
        photoUrls.push(url);
        img = el("img", { src: url, alt: `${w().photo}: ${name}`, class: "member-photo", width: "72" });
      }
      return el(
        "li",
        {},
        el(
          "button",
          { type: "button", class: "big member", "data-member": name, onclick: () => v.env.pick(m.card) },
          img,
          el(
            "span",
            { class: "member-text" },
            el("span", { class: "member-name", translate: "no", text: name }),
            kana ? el("span", { class: "member-kana", translate: "no", text: kana }) : null,
            el("span", { class: "member-age", text: `${w().age(m.age)}${w().dot}${w().sex[m.sex] || m.sex}` }),
          ),
        ),
      );
    });
    list.append(el("p", { text: w().pick }), el("ul", { class: "members", "data-members": String(items.length) }, items));
  }
  box.replaceChildren(el("h2", { id: "household-h", text: w().title }), verdict, list);
  return verdict;
}

/**
 * Shows a household sticker: `digits` from its URL. `env`: {signed(method, path, body) → Response,
 * jwks() → {jwks}|null, loggedIn(), online(), incidentRef(), pick(cardB64url)}.
 */
export async function openHousehold(digits, env) {
  dropPhotos();
  view = { verdict: "checking", state: "checking", env };
  paint();
  let bytes;
  try {
    bytes = digitsToBytes(digits);
    const rec = await env.jwks();
    if (!rec) {
      view = { verdict: "no_keys", state: "keys", env };
      return paint();
    }
    await verifyHousehold(bytes, await importJwks(rec.jwks));
  } catch (e) {
    view = { verdict: "not_genuine", code: e.code, state: "bad", env };
    return paint().focus();
  }
  const online = env.loggedIn() && env.online();
  view = { verdict: "genuine", state: online ? "fetching" : "login", env };
  paint().focus();
  if (!online) return;
  try {
    const r = await env.signed("POST", "/api/v1/household-scans", { sticker: b64url(bytes), incident_ref: env.incidentRef() });
    const body = await r.json().catch(() => ({}));
    view = r.ok
      ? { verdict: "genuine", state: "listed", listing: body, env }
      : { verdict: "genuine", state: "refused", error: body.error, detail: body.message || r.status, env };
  } catch (e) {
    view = { verdict: "genuine", state: "failed", detail: e.message || String(e), env };
  }
  paint();
}
