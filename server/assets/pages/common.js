// Shared by the resident portal and the admin console (no framework, no build step).
// - Language: Japanese by default, English on request; the choice is remembered in localStorage.
//   Every visible string is a pair {ja, en}: elements carry both in data-ja / data-en (and
//   data-aria-ja / data-aria-en for labels), so switching language never rebuilds a form and never
//   loses what was typed.
// - The JSON API with the bearer session in sessionStorage (this tab only; RULES R7: no secrets kept).
// - API errors ({"error","message"}) shown next to the field they name, in the reader's language.
// - Forms built from small field lists, and a confirmation dialog.

export const TOKEN = "kyukit.token";
const LANG_KEY = "kyukit.lang";

/** Remembers the language for this browser: localStorage for the scripted pages, a cookie for
 * the server-rendered ones (the directory). */
function remember(l) {
  localStorage.setItem(LANG_KEY, l);
  document.cookie = `kyukit_lang=${l}; path=/pages; max-age=31536000; samesite=lax`;
}

export let lang = (() => {
  const q = new URLSearchParams(location.search).get("lang");
  if (q === "ja" || q === "en") {
    remember(q);
    return q;
  }
  // The cookie first: every page writes it, including the server-rendered ones.
  const stored = /(?:^|; )kyukit_lang=(ja|en)/.exec(document.cookie)?.[1] || localStorage.getItem(LANG_KEY);
  return stored === "en" ? "en" : "ja";
})();

/** A bilingual string. */
export const p = (ja, en) => ({ ja, en });

/** Sets an element's text in both languages (shown in the current one). */
export function setText(el, pair) {
  el.dataset.ja = pair.ja;
  el.dataset.en = pair.en;
  el.textContent = pair[lang];
  return el;
}

/** Sets an element's accessible name in both languages. */
export function setAria(el, pair) {
  el.dataset.ariaJa = pair.ja;
  el.dataset.ariaEn = pair.en;
  el.setAttribute("aria-label", pair[lang]);
  return el;
}

const langListeners = [];
export function onLangChange(fn) {
  langListeners.push(fn);
}

/** Shows every bilingual element in the current language. */
export function applyLang(root = document) {
  document.documentElement.lang = lang;
  for (const el of root.querySelectorAll("[data-ja]")) el.textContent = el.dataset[lang];
  for (const el of root.querySelectorAll("[data-aria-ja]")) {
    el.setAttribute("aria-label", lang === "ja" ? el.dataset.ariaJa : el.dataset.ariaEn);
  }
  const b = document.getElementById("lang");
  if (b) {
    // The button names the other language, in that language.
    b.textContent = lang === "ja" ? "English" : "日本語";
    b.lang = lang === "ja" ? "en" : "ja";
    b.setAttribute("aria-label", lang === "ja" ? "Switch to English" : "日本語に切り替える");
  }
  for (const fn of langListeners) fn(lang);
}

export function setLang(l) {
  lang = l === "en" ? "en" : "ja";
  remember(lang);
  applyLang();
}

export function initLangButton() {
  document.getElementById("lang").addEventListener("click", () => setLang(lang === "ja" ? "en" : "ja"));
  applyLang();
}

/**
 * Builds an element. props: {text: pair, aria: pair, class, on: {event: fn}, ...attributes};
 * children: nodes, plain strings, or pairs (become bilingual spans).
 */
export function h(tag, props = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(props || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k === "text") setText(el, v);
    else if (k === "aria") setAria(el, v);
    else if (k === "class") el.className = v;
    else if (k === "on") for (const [ev, fn] of Object.entries(v)) el.addEventListener(ev, fn);
    else if (k === "dataset") Object.assign(el.dataset, v);
    else if (v === true) el.setAttribute(k, "");
    else el.setAttribute(k, String(v));
  }
  for (const c of children.flat()) {
    if (c === undefined || c === null || c === false) continue;
    if (c instanceof Node) el.appendChild(c);
    else if (typeof c === "object") el.appendChild(setText(document.createElement("span"), c));
    else el.appendChild(document.createTextNode(String(c)));
  }
  return el;
}

/** Text that came from a person (names, addresses): never translated, shown as entered. */
export const user = (s) => h("span", { translate: "no", class: "user" }, s ?? "");

/** A time (unix seconds) in Japan time, in both languages. */
export function when(unix) {
  if (unix === null || unix === undefined) return p("—", "—");
  const d = new Date(unix * 1000);
  const f = (l) =>
    new Intl.DateTimeFormat(l === "ja" ? "ja-JP" : "en-GB", {
      dateStyle: "medium",
      timeStyle: "short",
      timeZone: "Asia/Tokyo",
    }).format(d);
  return p(f("ja"), f("en"));
}

/** The calendar day (in Japan) of a time (unix seconds), in both languages. */
export function dateOf(unix) {
  const d = new Date(unix * 1000);
  const f = (l) => new Intl.DateTimeFormat(l === "ja" ? "ja-JP" : "en-GB", { dateStyle: "long", timeZone: "Asia/Tokyo" }).format(d);
  return p(f("ja"), f("en"));
}

/** A calendar date YYYY-MM-DD in both languages. */
export function day(iso) {
  if (!iso) return p("—", "—");
  const [y, m, d] = iso.split("-").map(Number);
  const dt = new Date(Date.UTC(y, m - 1, d));
  const f = (l) =>
    new Intl.DateTimeFormat(l === "ja" ? "ja-JP" : "en-GB", { dateStyle: "long", timeZone: "UTC" }).format(dt);
  return p(f("ja"), f("en"));
}

// ---------------------------------------------------------------------------------------------
// The API

export class ApiFailure extends Error {
  constructor(status, code, message) {
    super(message || code);
    this.status = status;
    this.code = code;
  }
}

let unauthorizedHandler = null;
/** Called when a request with a session is answered 401 (the session ended). */
export function onUnauthorized(fn) {
  unauthorizedHandler = fn;
}

// The page's municipality: `?municipality=CODE` on a page is carried to the public routes that
// name one (login, registration, facility applications); everything else is the session's
// (docs/data-model.md, "Tenancy").
const TENANT_POSTS = ["/api/v1/sessions", "/api/v1/residents", "/api/v1/proxies", "/api/v1/proxy-invites/register", "/api/v1/facility-applications"];

export function tenantPath(method, path) {
  const code = new URLSearchParams(location.search).get("municipality");
  if (!code) return path;
  const bare = path.split("?")[0];
  const named = (method === "POST" && TENANT_POSTS.includes(bare)) || (method === "GET" && bare.startsWith("/api/v1/facility-applications/"));
  return named ? `${path}${path.includes("?") ? "&" : "?"}municipality=${encodeURIComponent(code)}` : path;
}

async function send(method, path, body) {
  const headers = {};
  const token = sessionStorage.getItem(TOKEN);
  if (token) headers.Authorization = `Bearer ${token}`;
  // A Blob (the photo for identity check) is sent as it is, with its own type.
  const raw = body instanceof Blob;
  if (body !== undefined) headers["Content-Type"] = raw ? body.type : "application/json";
  let r;
  try {
    r = await fetch(tenantPath(method, path), { method, headers, body: body === undefined ? undefined : raw ? body : JSON.stringify(body) });
  } catch {
    throw new ApiFailure(0, "network", "network error");
  }
  if (!r.ok) {
    let data = null;
    try {
      data = await r.json();
    } catch {
      // not JSON: keep the status
    }
    const err = new ApiFailure(r.status, data?.error || "internal", data?.message || "");
    if (r.status === 401 && token && unauthorizedHandler) {
      sessionStorage.removeItem(TOKEN);
      unauthorizedHandler(err);
    }
    throw err;
  }
  return r;
}

/** Ends the session on the server and forgets it here (quietly, if it had already ended). */
export async function logout() {
  const token = sessionStorage.getItem(TOKEN);
  sessionStorage.removeItem(TOKEN);
  if (!token) return;
  try {
    await fetch("/api/v1/sessions/current", { method: "DELETE", headers: { Authorization: `Bearer ${token}` } });
  } catch {
    // offline: the session ends by itself
  }
}

/** A JSON request; resolves to the parsed body (null for 204), rejects with ApiFailure. */
export async function api(method, path, body) {
  const r = await send(method, path, body);
  if (r.status === 204) return null;
  return r.json();
}

/** A GET of binary content (QR images, printables) as a Blob. */
export async function apiBlob(path) {
  return (await send("GET", path)).blob();
}

// ---------------------------------------------------------------------------------------------
// Errors, in the reader's language

const ERRORS = {
  network: p("通信できませんでした。インターネットの接続を確かめて、もう一度お試しください。", "Could not reach the server. Check the connection and try again."),
  unauthorized: p("ログインの有効期限が切れました。もう一度ログインしてください。", "Your session has ended. Please log in again."),
  wrong_credentials: p("ログインIDまたはパスワード（確認コード）が違います。", "Wrong login ID or password (or code)."),
  forbidden: p("この操作はできません。", "You may not do this."),
  not_found: p("見つかりませんでした。", "Not found."),
  internal: p("サーバーで問題が起きました。時間をおいてもう一度お試しください。", "Something went wrong on the server. Please try again later."),
  unavailable: p("ただいま混み合っています。時間をおいてもう一度お試しください。", "The service is busy. Please try again later."),
  rate_limited: p("回数が多すぎます。1分ほど待ってからもう一度お試しください。", "Too many attempts. Wait a minute and try again."),
  account_locked: p("続けて失敗したため、15分間ログインできません。", "Too many failed attempts: login is locked for 15 minutes."),
  facility_suspended: p("所属する施設が停止中のため、ログインできません。", "Your facility is suspended, so you cannot log in."),
  totp_required: p("6けたの確認コードを入力してください。", "Enter the 6-digit code."),
  totp_invalid: p("確認コードが違うか、期限が切れています。新しいコードを入力してください。", "The code is wrong or has expired. Enter a new one."),
  totp_not_set_up: p("確認コードの設定がありません。市の担当者に連絡してください。", "No second factor is set up. Contact the city."),
  device_required: p("救急隊員は登録済みの端末からログインしてください。", "Paramedics log in from an enrolled device."),
  required: p("入力してください。", "Please fill this in."),
  password_mismatch: p("2回入れたパスワードが同じではありません。", "The two passwords are not the same."),
  login_id_taken: p("このログインIDはすでに使われています。別のIDにしてください。", "This login ID is already taken. Choose another."),
  invalid_login_id: p("ログインIDは、半角の英小文字・数字と . _ @ - で3〜64文字です。", "Login ID: 3–64 characters of a–z, 0–9, . _ @ -."),
  weak_password: p("パスワードは10文字以上（128文字まで）にしてください。", "The password needs 10 to 128 characters."),
  wrong_password: p("今のパスワードが違います。", "The current password is wrong."),
  invalid_date: p("正しい日付を選んでください（未来の日付は選べません）。", "Choose a real date (not in the future)."),
  invalid_phone: p("電話番号を数字で入力してください（例: 0297-12-3456）。", "Enter a phone number in digits (e.g. 0297-12-3456)."),
  proxy_statement_required: p("代理で登録するには、確認事項に同意してください。", "To register as a proxy, accept the statement."),
  consent_required: p("カードを作る前に「見せてよい情報（同意）」を決めてください。", "Choose what may be shown (consent) before making a card."),
  withdrawn: p("支援中止になっています。再開するには、同意をもう一度登録してください。", "Support is stopped (支援中止). To restart, give consent again."),
  purged: p("この記録は削除されています。もう一度登録してください。", "This record has been deleted. Please register again."),
  single_item_category: p("この項目は1つだけです。今の内容を変更してください。", "This holds one entry: change the existing one."),
  too_many_items: p("これ以上は登録できません。", "No more entries can be added here."),
  unknown_category: p("知らない項目です。", "Unknown category."),
  invalid_item: p("入力内容を確かめてください。", "Please check what you entered."),
  invalid_body: p("入力内容を確かめてください。", "Please check what you entered."),
  invalid_json: p("入力内容を確かめてください。", "Please check what you entered."),
  cannot_print: p("お名前を印刷できません（使えない文字があるか、長すぎます）。同意の「名前を印刷する」を外すか、お名前を直してください。", "The name cannot be printed (an unsupported character, or too long). Turn off printing the name in your consent, or change the name."),
  card_revoked: p("このカードは使えなくなっています。", "This card is no longer valid."),
  already_revoked: p("このカードはすでに使えなくなっています。", "This card is already revoked."),
  conflict: p("すでに登録されています。", "This already exists."),
  already_decided: p("この申請はすでに処理されています。", "This request has already been decided."),
  request_pending: p("この施設には処理待ちの申請があります。", "This facility already has a pending request."),
  facility_withdrawn: p("この施設は退会済みです。", "This facility has withdrawn."),
  already_withdrawn: p("このお知らせはすでに取り下げられています。", "This notice is already withdrawn."),
  disaster_over: p("この災害宣言はすでに終わっています。", "This declaration has already ended."),
  invalid_period: p("期間は14日以内で、開始は今より前にしすぎないでください。", "The period must be at most 14 days and may not start in the past."),
  insufficient_notice: p("サービス終了のお知らせは30日以上前に出してください。", "A termination notice must be at least 30 days ahead."),
  invalid_email: p("メールアドレスの形が正しくありません。", "The e-mail address is not valid."),
  replaced: p("このIDは再発行で止められています。新しいIDを使ってください。", "This ID was replaced: use the new one."),
  already_reviewed: p("すでに確認済みです。", "Already reviewed."),
  invalid_role: p("役割を選び直してください。", "Choose a valid role."),
  invalid_facility: p("施設を選び直してください。", "Choose a valid facility."),
};

/** The field an error is about, if the API named one. */
const FIELD_OF_CODE = {
  required: p("入力してください。", "Please fill this in."),
  password_mismatch: p("2回入れたパスワードが同じではありません。", "The two passwords are not the same."),
  login_id_taken: "login_id",
  invalid_login_id: "login_id",
  weak_password: "password",
  wrong_password: "current_password",
  proxy_statement_required: "accept_proxy_statement",
  totp_required: "totp",
  totp_invalid: "totp",
};

export function errorField(err) {
  const m = /^([a-z_][a-z0-9_]*(?:\.[a-z0-9_]+)*): /.exec(err.message || "");
  if (m) return m[1].split(".").pop();
  return FIELD_OF_CODE[err.code] || null;
}

/** What to tell the reader about an API error (a pair). `overrides` maps codes to pairs. */
export function errorText(err, overrides = {}) {
  if (overrides[err.code]) return overrides[err.code];
  const msg = err.message || "";
  if (err.code === "invalid_field") {
    let m = /must be (\d+)–(\d+) characters/.exec(msg);
    if (m) {
      const [min, max] = [m[1], m[2]];
      return min === "1"
        ? p(`入力してください（${max}文字まで）。`, `Please fill this in (at most ${max} characters).`)
        : p(`${min}〜${max}文字で入力してください。`, `Use ${min} to ${max} characters.`);
    }
    if (/control characters/.test(msg)) return p("使えない文字が含まれています。", "This contains characters that are not allowed.");
    if (/one of/.test(msg)) return p("一覧から選んでください。", "Choose one from the list.");
    if (/^code:/.test(msg)) return p("薬のコードは12文字のYJコードか、9けた・13けたのHOTコードです。わからなければ空けてください。", "The code is a 12-character YJ code or a 9/13-digit HOT code. Leave it empty if unsure.");
    if (/^icd10:/.test(msg)) return p("ICD-10コードの形が違います（例: I48.9）。わからなければ空けてください。", "Not an ICD-10 code (e.g. I48.9). Leave it empty if unsure.");
    return p("入力内容を確かめてください。", "Please check this.");
  }
  if (ERRORS[err.code]) return ERRORS[err.code];
  return p(`エラーが起きました（${err.code}）。`, msg || `Error (${err.code}).`);
}

/** Removes the error messages a form shows. */
export function clearErrors(form) {
  for (const e of form.querySelectorAll(".field-error")) {
    e.hidden = true;
    e.textContent = "";
    delete e.dataset.ja;
    delete e.dataset.en;
  }
  for (const e of form.querySelectorAll("[aria-invalid]")) e.removeAttribute("aria-invalid");
  const s = form.querySelector(".form-error");
  if (s) {
    s.hidden = true;
    s.textContent = "";
  }
}

/**
 * Shows an API error: next to its field when the API named one the form has, and always in the
 * form's summary (role=alert); focuses the field. Nothing the person typed is cleared.
 */
export function showError(form, err, overrides = {}) {
  clearErrors(form);
  const text = errorText(err, overrides);
  const field = errorField(err);
  const box = field && form.querySelector(`.field[data-field="${field}"]`);
  if (box) {
    const e = box.querySelector(".field-error");
    setText(e, text);
    e.hidden = false;
    const input = box.querySelector("input, select, textarea");
    if (input) {
      input.setAttribute("aria-invalid", "true");
      input.focus();
    }
  }
  const s = form.querySelector(".form-error");
  if (s) {
    setText(s, box ? p(`入力内容を確かめてください: ${box.dataset.labelJa}`, `Please check: ${box.dataset.labelEn}`) : text);
    s.hidden = false;
  }
}

/**
 * Shows several problems at once (`list`: [[field name, pair]], in the form's order): each next
 * to its field, all of them named in the form's summary, and focus on the first.
 */
export function showErrors(form, list) {
  clearErrors(form);
  let first = null;
  const names = [];
  for (const [name, pair] of list) {
    const box = form.querySelector(`.field[data-field="${name}"]`);
    if (!box) continue;
    const e = box.querySelector(".field-error");
    setText(e, pair);
    e.hidden = false;
    for (const input of box.querySelectorAll("input, select, textarea")) input.setAttribute("aria-invalid", "true");
    first ??= box.querySelector("input, select, textarea");
    names.push(box);
  }
  const s = form.querySelector(".form-error");
  if (s && names.length) {
    setText(s, p(`${names.length}か所の入力を確かめてください: ${names.map((b) => b.dataset.labelJa).join("、")}`,
      `Please check ${names.length === 1 ? "this field" : `these ${names.length} fields`}: ${names.map((b) => b.dataset.labelEn).join(", ")}`));
    s.hidden = false;
  }
  first?.focus();
}

/** What the form can tell before sending: empty required fields and each spec's own `check`. */
export function problems(specs, v) {
  const out = [];
  for (const s of specs) {
    const val = v[s.name];
    const empty = val === "" || val === null || val === undefined;
    if (s.type === "checkbox") {
      if (s.mustCheck && !val) out.push([s.name, s.mustCheck]);
    } else if (empty && (s.required || s.type === "dob")) out.push([s.name, ERRORS.required]);
    else if (!empty && s.check) {
      const e = s.check(val, v);
      if (e) out.push([s.name, e]);
    }
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Forms

let uid = 0;

const REQUIRED = p("必須", "required");
const OPTIONAL = p("なくても可", "optional");

/**
 * One labelled field. spec: {name, label: pair, type: text|password|tel|email|number|date|
 * datetime-local|textarea|select|checkbox|dob, options: [[value, pair]], required, hint: pair,
 * autocomplete, value, inputmode, list (a <datalist> id of suggestions), check: (value, all values) → pair | null (checked before
 * sending, with every other field), mustCheck: pair (a checkbox that must be ticked)}.
 */
export function field(spec) {
  const id = `f${++uid}-${spec.name}`;
  const errId = `${id}-err`;
  const hintId = spec.hint ? `${id}-hint` : null;
  const box = h("div", { class: `field ${spec.type === "checkbox" ? "check" : ""}`, dataset: { field: spec.name, labelJa: spec.label.ja, labelEn: spec.label.en } });
  const describedBy = [hintId, errId].filter(Boolean).join(" ");
  let control;
  if (spec.type === "select") {
    control = h("select", { id, name: spec.name, "aria-describedby": describedBy });
    if (!spec.required) control.appendChild(h("option", { value: "", text: p("（選ばない）", "(none)") }));
    else if (spec.value === undefined || spec.value === null) control.appendChild(h("option", { value: "", text: p("（選んでください）", "(choose)") }));
    for (const [value, label] of spec.options) control.appendChild(h("option", { value, text: label }));
  } else if (spec.type === "textarea") {
    control = h("textarea", { id, name: spec.name, rows: spec.rows || 3, "aria-describedby": describedBy });
  } else if (spec.type === "dob") {
    return dobField(spec, id, errId);
  } else {
    control = h("input", {
      id,
      name: spec.name,
      type: spec.type || "text",
      autocomplete: spec.autocomplete || "off",
      inputmode: spec.inputmode,
      list: spec.list,
      "aria-describedby": describedBy,
    });
  }
  if (spec.type === "checkbox") {
    control.checked = !!spec.value;
    box.append(h("label", { for: id }, control, h("span", { text: spec.label })));
  } else {
    if (spec.value !== undefined && spec.value !== null) control.value = spec.value;
    const tag = spec.required ? REQUIRED : OPTIONAL;
    box.append(h("label", { for: id }, h("span", { text: spec.label }), " ", h("span", { class: spec.required ? "tag req" : "tag", text: tag })), control);
  }
  if (spec.required && spec.type !== "checkbox") control.setAttribute("aria-required", "true");
  if (spec.hint) box.appendChild(h("p", { id: hintId, class: "hint", text: spec.hint }));
  box.appendChild(h("p", { id: errId, class: "field-error", role: "alert", hidden: true }));
  return box;
}

/** Japanese era name for a year (for the date-of-birth picker). */
function era(y) {
  if (y >= 2019) return y === 2019 ? "令和元年" : `令和${y - 2018}年`;
  if (y >= 1989) return y === 1989 ? "平成元年" : `平成${y - 1988}年`;
  if (y >= 1926) return y === 1926 ? "昭和元年" : `昭和${y - 1925}年`;
  if (y >= 1912) return y === 1912 ? "大正元年" : `大正${y - 1911}年`;
  return `明治${y - 1867}年`;
}

/** Date of birth as three big selects (year with the Japanese era, month, day). */
function dobField(spec, id, errId) {
  const box = h("fieldset", { class: "field dob", dataset: { field: spec.name, labelJa: spec.label.ja, labelEn: spec.label.en }, "aria-describedby": errId });
  box.appendChild(h("legend", {}, h("span", { text: spec.label }), " ", h("span", { class: "tag req", text: REQUIRED })));
  const [vy, vm, vd] = (spec.value || "").split("-");
  const year = h("select", { id: `${id}-y`, name: `${spec.name}_year` });
  year.appendChild(h("option", { value: "", text: p("年", "Year") }));
  const now = new Date().getFullYear();
  for (let y = now; y >= 1900; y--) year.appendChild(h("option", { value: y, text: p(`${y}年（${era(y)}）`, String(y)) }));
  const month = h("select", { id: `${id}-m`, name: `${spec.name}_month` });
  month.appendChild(h("option", { value: "", text: p("月", "Month") }));
  for (let m = 1; m <= 12; m++) {
    const en = new Intl.DateTimeFormat("en-GB", { month: "long", timeZone: "UTC" }).format(new Date(Date.UTC(2000, m - 1, 1)));
    month.appendChild(h("option", { value: String(m).padStart(2, "0"), text: p(`${m}月`, en) }));
  }
  const dayS = h("select", { id: `${id}-d`, name: `${spec.name}_day` });
  dayS.appendChild(h("option", { value: "", text: p("日", "Day") }));
  for (let d = 1; d <= 31; d++) dayS.appendChild(h("option", { value: String(d).padStart(2, "0"), text: p(`${d}日`, String(d)) }));
  year.value = vy || "";
  month.value = vm || "";
  dayS.value = vd || "";
  const lab = (forId, pair) => h("label", { for: forId, class: "sub" }, h("span", { text: pair }));
  box.append(
    h("div", { class: "dob-row" },
      h("div", {}, lab(year.id, p("年", "Year")), year),
      h("div", {}, lab(month.id, p("月", "Month")), month),
      h("div", {}, lab(dayS.id, p("日", "Day")), dayS)),
  );
  box.appendChild(h("p", { id: errId, class: "field-error", role: "alert", hidden: true }));
  return box;
}

/** Reads a form's values by its field specs (checkboxes → booleans; empty optional → null). */
export function values(form, specs) {
  const out = {};
  for (const s of specs) {
    if (s.type === "dob") {
      const y = form.elements[`${s.name}_year`].value;
      const m = form.elements[`${s.name}_month`].value;
      const d = form.elements[`${s.name}_day`].value;
      out[s.name] = y && m && d ? `${y}-${m}-${d}` : "";
    } else if (s.type === "checkbox") {
      out[s.name] = form.elements[s.name].checked;
    } else {
      const v = form.elements[s.name].value.trim();
      out[s.name] = v === "" && !s.required ? null : v;
    }
  }
  return out;
}

/** A form: fields, a summary for errors, and a submit button (with optional extra buttons). */
export function form(specs, submitLabel, onSubmit, extra = []) {
  const f = h("form", { novalidate: true, class: "stack" });
  f.appendChild(h("p", { class: "form-error error", role: "alert", hidden: true }));
  for (const s of specs) f.appendChild(s instanceof Node ? s : field(s));
  const submit = h("button", { type: "submit", class: "primary", text: submitLabel });
  f.appendChild(h("div", { class: "actions" }, submit, ...extra));
  f.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    clearErrors(f);
    const fields = specs.filter((s) => !(s instanceof Node));
    const v = values(f, fields);
    const found = problems(fields, v);
    if (found.length) {
      showErrors(f, found);
      return;
    }
    submit.disabled = true;
    try {
      await onSubmit(v, f);
    } catch (err) {
      if (err instanceof ApiFailure) showError(f, err);
      else {
        console.error(err);
        showError(f, new ApiFailure(0, "internal", String(err)));
      }
    } finally {
      submit.disabled = false;
    }
  });
  return f;
}

// ---------------------------------------------------------------------------------------------
// Dialogs

/**
 * A modal dialog with large buttons. Without fields it resolves true (confirmed) or false. With
 * fields (field specs), it resolves to their values, or null when cancelled. With `action`, the
 * dialog stays open while `action(values)` runs: an API error is shown next to its field in the
 * dialog (nothing typed is lost) and the dialog resolves to the action's result on success.
 */
export function ask({ title, body, confirm, danger = false, fields = [], action = null }) {
  return new Promise((resolve) => {
    const titleId = `ask-title-${++uid}`;
    const d = h("dialog", { class: "ask", "aria-labelledby": titleId });
    const f = h("form", { novalidate: true });
    f.appendChild(h("h2", { id: titleId, text: title }));
    if (body) f.appendChild(body instanceof Node ? body : h("p", { text: body }));
    f.appendChild(h("p", { class: "form-error error", role: "alert", hidden: true }));
    for (const s of fields) f.appendChild(field(s));
    const ok = h("button", { type: "submit", class: danger ? "danger" : "primary", text: confirm });
    const cancel = h("button", { type: "button", class: "secondary", text: p("やめる", "Cancel") });
    f.appendChild(h("div", { class: "actions" }, ok, cancel));
    d.appendChild(f);
    document.body.appendChild(d);
    let result = fields.length ? null : false;
    cancel.addEventListener("click", () => d.close());
    d.addEventListener("cancel", () => {}); // Escape closes: result stays "cancelled"
    f.addEventListener("submit", async (ev) => {
      ev.preventDefault();
      clearErrors(f);
      const v = values(f, fields);
      const missing = fields.find((s) => s.required && s.type !== "checkbox" && !v[s.name]);
      if (missing) {
        showError(f, new ApiFailure(0, "required", `${missing.name}: required`));
        return;
      }
      ok.disabled = true;
      try {
        result = action ? await action(v) : fields.length ? v : true;
        d.close();
      } catch (err) {
        if (!(err instanceof ApiFailure)) throw err;
        showError(f, err);
      } finally {
        ok.disabled = false;
      }
    });
    d.addEventListener("close", () => {
      d.remove();
      resolve(result);
    });
    d.showModal();
    const first = f.querySelector("input, select, textarea");
    (first || cancel).focus();
  });
}

let relogging = null;
/**
 * The session ended (idle timeout) while the person was working: ask them to log in again in a
 * dialog over the page, so nothing they typed is lost. Resolves true once a new session is stored.
 * Concurrent callers share one dialog.
 */
export function relogin({ totp = false } = {}) {
  if (relogging) return relogging;
  const fields = [
    { name: "login_id", label: p("ログインID", "Login ID"), type: "text", required: true, autocomplete: "username" },
    { name: "password", label: p("パスワード", "Password"), type: "password", required: true, autocomplete: "current-password" },
  ];
  if (totp) fields.push({ name: "totp", label: p("確認コード（6けた）", "Code (6 digits)"), type: "text", required: true, autocomplete: "one-time-code", inputmode: "numeric" });
  relogging = ask({
    title: p("もう一度ログインしてください", "Please log in again"),
    body: p("しばらく操作がなかったため、ログインが終わりました。入力した内容はそのまま残っています。", "You were logged out after a while without activity. What you typed is still here."),
    confirm: p("ログインする", "Log in"),
    fields,
    action: async (v) => {
      try {
        const body = { login_id: v.login_id || "", password: v.password || "" };
        if (totp) body.totp = v.totp || "";
        const r = await api("POST", "/api/v1/sessions", body);
        sessionStorage.setItem(TOKEN, r.token);
        return true;
      } catch (err) {
        if (err instanceof ApiFailure && err.code === "unauthorized") throw new ApiFailure(401, "wrong_credentials", "password: wrong");
        throw err;
      }
    },
  }).then((ok) => {
    relogging = null;
    return ok === true;
  });
  return relogging;
}

/** A status message region (polite live region). */
export function say(el, pair, kind = "ok") {
  el.className = `status ${kind}`;
  setText(el, pair);
  el.hidden = false;
}

/** A QR code the server drew (SVG text) as an image with its alternative text. */
export function qrImage(svg, alt, id) {
  if (!svg) return null;
  const bytes = new TextEncoder().encode(svg);
  let bin = "";
  for (const b of bytes) bin += String.fromCharCode(b);
  return h("img", { id, class: "qr-code", src: `data:image/svg+xml;base64,${btoa(bin)}`, aria: alt, width: 240, height: 240 });
}
