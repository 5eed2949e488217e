// The resident portal: log in or register (yourself, or someone else as their family member or
// care manager), enter the emergency dataset, choose what paramedics may see, make the card and
// print it, withdraw (支援中止), and check who viewed the record. Talks only to the JSON API
// (docs/api.md) with the bearer session in sessionStorage.

import {
  TOKEN, p, h, user, setText, applyLang, initLangButton, onLangChange, lang, when, day, dateOf,
  api, apiBlob, ApiFailure, onUnauthorized, relogin, logout, form, ask, say, showError, errorText,
} from "./common.js";
import { PHOTO_CONSENT, renderPhoto } from "./photo.js";
import { PENDING_CODE, PROXY_STATEMENT_EN, PROXY_STATEMENT_JA, RELATIONS, renderAccept, renderFamily } from "./proxies.js";
import { renderReconfirm } from "./reconfirm.js";
import { CONSENT_OPTIONS, familySpecs, familySummary, wireFamily } from "./consent.js";
import { addForm } from "./multiadd.js";
import { revokedCardLine, withdrawnCards } from "./withdrawn.js";

const $ = (id) => document.getElementById(id);
const RID = "kyukit.rid";

// ---------------------------------------------------------------------------------------------
// What the dataset holds, in plain words (the item kinds and rules of service/dataset.rs).

const SEVERITY = [
  ["mild", p("軽い（かゆみ・発疹など）", "Mild (itching, rash)")],
  ["moderate", p("中くらい", "Moderate")],
  ["severe", p("重い", "Severe")],
  ["anaphylaxis", p("アナフィラキシー（命に関わる）", "Anaphylaxis (life-threatening)")],
];
const DEVICE_KINDS = [
  ["pacemaker", p("ペースメーカー", "Pacemaker")],
  ["icd", p("植込み型除細動器（ICD）", "Implanted defibrillator (ICD)")],
  ["insulin_pump", p("インスリンポンプ", "Insulin pump")],
  ["shunt", p("シャント", "Shunt")],
  ["stent", p("ステント", "Stent")],
  ["joint_replacement", p("人工関節", "Joint replacement")],
  ["other", p("その他", "Other")],
];
const ABO = [
  ["A", p("A型", "A")], ["B", p("B型", "B")], ["O", p("O型", "O")], ["AB", p("AB型", "AB")],
  ["unknown", p("わからない", "Don't know")],
];
const RH = [["+", p("Rh＋（プラス）", "Rh positive (+)")], ["-", p("Rh－（マイナス）", "Rh negative (−)")], ["unknown", p("わからない", "Don't know")]];
const DIRECTIVE = [
  ["none", p("特にない", "Nothing on file")],
  ["acp", p("人生会議（ACP）で話し合った記録がある", "An advance care plan (ACP) is on file")],
  ["dnar", p("心肺蘇生を望まない（DNAR）", "Do not attempt resuscitation (DNAR)")],
];

const CATEGORIES = [
  {
    key: "medications",
    title: p("飲んでいる薬", "Medications"),
    about: p("お薬手帳を見ながら、いま飲んでいる薬を1つずつ入れてください。", "Add each medicine you take now; your medication handbook helps."),
    consent: p("薬の名前と量を救急隊が見られます。血液をサラサラにする薬などは、けがや出血の手当てにとても大切です。", "Paramedics see the names and doses. Blood thinners in particular matter for treating injuries and bleeding."),
    fields: [
      { name: "name", label: p("薬の名前", "Name of the medicine"), required: true },
      { name: "dose", label: p("1回の量（例: 1錠）", "Dose (e.g. 1 tablet)") },
      { name: "frequency", label: p("飲み方（例: 朝・夕食後）", "When (e.g. after breakfast and dinner)") },
      { name: "anticoagulant", type: "checkbox", label: p("血液をサラサラにする薬（ワルファリンなど）", "Blood thinner (warfarin and similar)") },
      { name: "insulin", type: "checkbox", label: p("インスリン", "Insulin") },
      { name: "code", label: p("薬のコード（わかる場合だけ）", "Medicine code (only if you know it)"), hint: p("YJコード（12文字）かHOTコード（9けた・13けた）", "YJ code (12 characters) or HOT code (9 or 13 digits)") },
    ],
    summary: (b) => [b.name, [b.dose, b.frequency].filter(Boolean).join("・")],
    flags: (b) => [b.anticoagulant && p("血液をサラサラにする薬", "blood thinner"), b.insulin && p("インスリン", "insulin")],
  },
  {
    key: "conditions",
    title: p("病気・持病", "Illnesses and conditions"),
    about: p("治療中の病気や、大きな病気・手術をしたことを入れてください。", "Add illnesses you are treated for, and major past illnesses or operations."),
    consent: p("持病がわかると、救急隊が具合の悪い原因を早くつかめます。", "Knowing your conditions helps paramedics find the cause quickly."),
    fields: [
      { name: "name", label: p("病名", "Name of the illness"), required: true },
      { name: "since", type: "date", label: p("いつから（わかる場合）", "Since when (if known)") },
      { name: "icd10", label: p("ICD-10コード（わかる場合だけ）", "ICD-10 code (only if you know it)"), hint: p("例: I48.9", "e.g. I48.9") },
    ],
    summary: (b) => [b.name],
    flags: (b) => [b.since && p(`${b.since}から`, `since ${b.since}`)],
  },
  {
    key: "allergies",
    title: p("アレルギー", "Allergies"),
    about: p("薬や食べ物などで、具合が悪くなったものを入れてください。", "Add medicines, foods or anything else that made you unwell."),
    consent: p("使ってはいけない薬などがわかり、安全に手当てできます。", "Paramedics know what must not be given, so treatment is safe."),
    fields: [
      { name: "substance", label: p("何で（薬・食べ物など）", "Caused by (medicine, food…)"), required: true },
      { name: "reaction", label: p("どうなったか（例: じんましん）", "What happened (e.g. hives)") },
      { name: "severity", type: "select", label: p("どのくらい重いか", "How severe"), options: SEVERITY, required: true },
    ],
    summary: (b) => [b.substance, b.reaction],
    flags: (b) => [label(SEVERITY, b.severity)],
  },
  {
    key: "devices",
    title: p("体の中の医療機器", "Implanted medical devices"),
    about: p("ペースメーカーや人工関節など、体の中にある医療機器を入れてください。", "Add devices inside your body, such as a pacemaker or a joint replacement."),
    consent: p("ペースメーカーなどがあると、使える機械や手当てが変わります。", "A pacemaker or similar changes which equipment and treatment paramedics can use."),
    fields: [
      { name: "kind", type: "select", label: p("種類", "Kind"), options: DEVICE_KINDS, required: true },
      { name: "description", label: p("くわしく（わかる場合）", "Details (if known)") },
    ],
    summary: (b) => [label(DEVICE_KINDS, b.kind), b.description],
    flags: () => [],
  },
  {
    key: "blood_type",
    single: true,
    title: p("血液型", "Blood type"),
    about: p("わからなければ「わからない」を選んでください。", "If you do not know, choose “Don't know”."),
    consent: p("輸血の準備に役立ちます（病院では必ず検査します）。", "Helps prepare a transfusion (the hospital always tests as well)."),
    fields: [
      { name: "abo", type: "select", label: p("ABO式", "ABO group"), options: ABO, required: true },
      { name: "rh", type: "select", label: p("Rh式", "Rh factor"), options: RH, required: true },
    ],
    summary: (b) => [label(ABO, b.abo), label(RH, b.rh)],
    flags: () => [],
  },
  {
    key: "advance_directive",
    single: true,
    title: p("もしものときの希望（人生会議）", "Wishes for the end of life (ACP)"),
    // Which of the two it is stays in the choice below: a page that says "DNAR" to someone who has
    // only an ACP misleads whoever reads over their shoulder (issue 19).
    about: p("人生会議（ACP）で話し合った記録や、心肺蘇生についての書類があるときに入れてください。", "If you have an advance care plan (ACP) or a document about resuscitation, say so here."),
    consent: p("希望や書類があることが救急隊に伝わります。", "Paramedics learn that your wishes or documents exist."),
    fields: [
      { name: "status", type: "select", label: p("希望", "Wishes"), options: DIRECTIVE, required: true },
      { name: "document_location", label: p("書類の置き場所（例: 冷蔵庫の横）", "Where the document is (e.g. next to the fridge)") },
    ],
    summary: (b) => [label(DIRECTIVE, b.status), b.document_location],
    flags: () => [],
  },
  {
    key: "care_team",
    single: true,
    title: p("かかりつけ", "Your doctor and care manager"),
    about: p("かかりつけの医師・病院と、ケアマネジャーを入れてください。", "Your regular doctor and hospital, and your care manager."),
    consent: p("かかりつけの医師・病院やケアマネジャーに連絡できます。", "Paramedics can contact your doctor, hospital or care manager."),
    fields: [
      { name: "primary_doctor", label: p("かかりつけの医師", "Regular doctor") },
      { name: "primary_hospital", label: p("かかりつけの病院・診療所", "Regular hospital or clinic") },
      { name: "hospital_phone", type: "tel", label: p("病院の電話番号", "Hospital phone"), inputmode: "tel" },
      { name: "care_manager", label: p("ケアマネジャー", "Care manager") },
      { name: "care_manager_phone", type: "tel", label: p("ケアマネジャーの電話番号", "Care manager's phone"), inputmode: "tel" },
    ],
    summary: (b) => [b.primary_doctor, b.primary_hospital, b.hospital_phone, b.care_manager, b.care_manager_phone],
    flags: () => [],
  },
  {
    key: "emergency_contacts",
    title: p("緊急連絡先", "Emergency contacts"),
    about: p("もしものときに連絡してほしい人を入れてください。", "People to call in an emergency."),
    consent: p("ご家族などに連絡できます。", "Paramedics can call your family or others you name."),
    fields: [
      { name: "name", label: p("お名前", "Name"), required: true },
      { name: "relation", label: p("あなたとの関係（例: 長女）", "Relation to you (e.g. daughter)"), required: true },
      { name: "phone", type: "tel", label: p("電話番号", "Phone"), required: true, inputmode: "tel" },
    ],
    summary: (b) => [b.name, b.relation, b.phone],
    flags: () => [],
  },
];

function label(options, value) {
  const o = options.find(([v]) => v === value);
  return o ? o[1] : p(value ?? "", value ?? "");
}

/** An item's summary parts: pairs (our words) and strings (what the person typed). */
function summaryParts(cat, body) {
  return cat.summary(body).filter((x) => x !== null && x !== undefined && x !== "");
}
/** The summary as one line of text in a language (for dialogs and accessible names). */
function summaryText(parts, l) {
  return parts.map((x) => (typeof x === "string" ? x : x[l])).join(" — ");
}
/** The summary as nodes: people's own words are marked translate="no". */
function summaryNodes(parts) {
  const out = [];
  parts.forEach((x, i) => {
    if (i) out.push(" — ");
    out.push(typeof x === "string" ? user(x) : h("span", { text: x }));
  });
  return out;
}

const SEX = [
  ["female", p("女性", "Female")],
  ["male", p("男性", "Male")],
  ["other", p("その他", "Other")],
  ["unknown", p("答えない", "Prefer not to say")],
];

function profileFields(v = {}, self = true) {
  return [
    { name: "family_name", label: self ? p("姓（みょうじ）", "Family name") : p("ご本人の姓", "The person's family name"), required: true, autocomplete: self ? "family-name" : "off", value: v.family_name },
    { name: "given_name", label: self ? p("名（なまえ）", "Given name") : p("ご本人の名", "The person's given name"), required: true, autocomplete: self ? "given-name" : "off", value: v.given_name },
    { name: "family_name_kana", label: p("姓のふりがな", "Family name in kana"), value: v.family_name_kana },
    { name: "given_name_kana", label: p("名のふりがな", "Given name in kana"), value: v.given_name_kana },
    { name: "date_of_birth", type: "dob", label: p("生年月日", "Date of birth"), value: v.date_of_birth },
    { name: "sex", type: "select", label: p("性別", "Sex"), options: SEX, required: true, value: v.sex || "unknown" },
    { name: "address", label: p("住所", "Address"), required: true, autocomplete: self ? "street-address" : "off", value: v.address },
    { name: "district", label: p("地区（例: 水海道地区）", "District (e.g. Mitsukaido)"), value: v.district, hint: p("災害のときの地区ごとの確認に使います。", "Used to find residents by district in a disaster.") },
    { name: "phone", type: "tel", label: p("電話番号", "Phone"), autocomplete: self ? "tel" : "off", inputmode: "tel", value: v.phone, check: checkPhone },
  ];
}

const PROFILE_KEYS = ["family_name", "given_name", "family_name_kana", "given_name_kana", "date_of_birth", "sex", "address", "district", "phone"];
function profileBody(v) {
  const out = { preferred_language: lang };
  for (const k of PROFILE_KEYS) out[k] = v[k];
  return out;
}

// The server's rules (service/accounts.rs, service/mod.rs), checked before sending so that every
// problem of a form shows at once.
const said = (code) => errorText({ code, message: "" });
const checkPhone = (v) => (/^[0-9+\-() ]{3,20}$/.test(v) && /[0-9]/.test(v) ? null : said("invalid_phone"));
const checkLoginId = (v) => (/^[a-z0-9._@-]{3,64}$/i.test(v) ? null : said("invalid_login_id"));
const checkPassword = (v) => ([...v].length >= 10 && [...v].length <= 128 ? null : said("weak_password"));
const checkConfirm = (v, all) => (v === all.password ? null : said("password_mismatch"));

function checkPasswords(v) {
  if (v.password !== v.password_confirm) throw new ApiFailure(0, "password_mismatch", "password_confirm: mismatch");
}
const accountFields = () => [
  { name: "login_id", label: p("ログインID（半角の英小文字・数字）", "Login ID (a–z, 0–9)"), required: true, autocomplete: "username", hint: p("3〜64文字。例: yamada.hanako", "3–64 characters, e.g. yamada.hanako"), check: checkLoginId },
  { name: "password", type: "password", label: p("パスワード（10文字以上）", "Password (10 characters or more)"), required: true, autocomplete: "new-password", check: checkPassword },
  { name: "password_confirm", type: "password", label: p("パスワード（確認のためもう一度）", "Password again (to check)"), required: true, autocomplete: "new-password", check: checkConfirm },
];

// ---------------------------------------------------------------------------------------------
// State and views

const state = { residents: [], held: [], rid: null, profile: null, items: [], consents: [], cards: [] };
const objectUrls = [];

const PUBLIC_VIEWS = ["welcome", "register", "register-proxy"];
const VIEWS = [...PUBLIC_VIEWS, "home", "profile", "dataset", "consent", "photo", "card", "withdraw", "family", "accept"];

function loggedIn() {
  return !!sessionStorage.getItem(TOKEN);
}

function status(pair, kind = "ok") {
  say($("status"), pair, kind);
}

async function route() {
  let view = location.hash.replace(/^#/, "") || (loggedIn() ? "home" : "welcome");
  // An invite link (`#accept=<code>`, proxies.js); a code waiting while its holder logged in.
  if (view.startsWith("accept=")) [view, acceptCode] = ["accept", decodeURIComponent(view.slice(7))];
  if (view === "home" && loggedIn() && sessionStorage.getItem(PENDING_CODE)) [view, acceptCode] = ["accept", sessionStorage.getItem(PENDING_CODE)];
  if (!VIEWS.includes(view)) view = loggedIn() ? "home" : "welcome";
  if (!loggedIn() && !PUBLIC_VIEWS.includes(view) && view !== "accept") view = "welcome";
  if (loggedIn() && PUBLIC_VIEWS.includes(view)) view = "home";
  for (const v of VIEWS) $(`view-${v}`).hidden = v !== view;
  $("logout").hidden = !loggedIn();
  document.body.dataset.view = view;
  delete document.body.dataset.ready;
  viewFailed = false;
  try {
    if (loggedIn()) await loadResidents();
    await RENDER[view]();
  } catch (err) {
    if (err instanceof ApiFailure) {
      if (err.status === 401) viewFailed = true;
      else status(errorPair(err), "error");
    } else throw err;
  }
  applyLang();
  // Move focus to the new view's heading, so screen readers announce where the person is.
  const h1 = $(`view-${view}`).querySelector("h1");
  if (h1 && !$(`view-${view}`).contains(document.activeElement)) {
    h1.tabIndex = -1;
    h1.focus({ preventScroll: false });
  }
  if (flash) {
    status(flash.pair, flash.kind);
    flash = null;
  }
  document.body.dataset.ready = view;
}

const errorPair = (err) => errorText(err);

let flash = null;
/** Whether the current view could not load because the session had ended. */
let viewFailed = false;
/** Shows a view; `message` is shown once it has rendered. */
function go(view, message = null) {
  flash = message;
  if (location.hash === `#${view}`) route();
  else location.hash = view;
}

async function loadResidents() {
  const me = await api("GET", "/api/v1/me/residents");
  state.residents = me.residents;
  state.held = me.held || [];
  const saved = sessionStorage.getItem(RID);
  state.rid = me.residents.some((r) => r.id === saved) ? saved : me.residents[0]?.id ?? null;
  if (state.rid) sessionStorage.setItem(RID, state.rid);
  state.profile = me.residents.find((r) => r.id === state.rid) || null;
}

const base = () => `/api/v1/residents/${state.rid}`;

async function loadRecord() {
  const [items, consents, cards] = await Promise.all([
    api("GET", `${base()}/dataset`),
    api("GET", `${base()}/consents`),
    api("GET", `${base()}/cards`),
  ]);
  state.items = items.items;
  state.consents = consents.consents;
  state.cards = cards.cards;
}

function currentConsent() {
  const latest = [...state.consents].sort((a, b) => b.version - a.version)[0];
  return latest || null;
}

const fullName = (r) => `${r.family_name} ${r.given_name}`;

// ---------------------------------------------------------------------------------------------

let acceptCode = null;

const RENDER = {
  async family() {
    await renderFamily($("family-body"), { rid: state.rid, status: $("status") });
  },

  async accept() {
    renderAccept($("accept-body"), { code: acceptCode, loggedIn: loggedIn(), go });
  },

  async welcome() {
    if ($("login-form").childElementCount) return;
    const f = form(
      [
        { name: "login_id", label: p("ログインID", "Login ID"), required: true, autocomplete: "username" },
        { name: "password", type: "password", label: p("パスワード", "Password"), required: true, autocomplete: "current-password" },
      ],
      p("ログインする", "Log in"),
      async (v, f) => {
        try {
          const r = await api("POST", "/api/v1/sessions", { login_id: v.login_id || "", password: v.password || "" });
          sessionStorage.setItem(TOKEN, r.token);
          f.reset();
          go("home");
        } catch (err) {
          if (!(err instanceof ApiFailure)) throw err;
          showError(f, err, {
            unauthorized: p("ログインIDまたはパスワードが違います。", "Wrong login ID or password."),
            totp_required: p("職員の方は、職員用のページからログインしてください。", "Staff: please log in on the staff page."),
          });
        }
      },
    );
    $("login-form").appendChild(f);
  },

  async register() {
    if ($("register-form").childElementCount) return;
    const specs = [...accountFields(), ...profileFields({}, true)];
    const f = form(specs, p("登録する", "Register"), async (v) => {
      checkPasswords(v);
      const r = await api("POST", "/api/v1/residents", { login_id: v.login_id || "", password: v.password || "", profile: profileBody(v) });
      sessionStorage.setItem(TOKEN, r.token);
      sessionStorage.setItem(RID, r.resident_id);
      f.reset();
      go("home", { pair: p("登録しました。次に「わたしの情報」を入力しましょう。", "You are registered. Next, add your information."), kind: "ok" });
    });
    $("register-form").appendChild(f);
  },

  async "register-proxy"() {
    if ($("proxy-form").childElementCount) return;
    const statement = h("div", { class: "statement" },
      h("h2", { text: p("代理で登録するときの確認", "What you confirm as a proxy") }),
      h("p", { lang: "ja" }, PROXY_STATEMENT_JA),
      h("p", { class: "translation", text: p("（この文をそのまま記録します）", `In English: ${PROXY_STATEMENT_EN}`) }));
    const specs = [
      h("h2", { text: p("あなた（登録する人）について", "About you (the person registering)") }),
      { name: "display_name", label: p("あなたのお名前", "Your name"), required: true, autocomplete: "name" },
      { name: "relation", type: "select", label: p("ご本人との関係", "Your relation to the person"), options: RELATIONS, required: true, value: "family" },
      { name: "relation_detail", label: p("関係のくわしい内容（例: 長女）", "Details (e.g. eldest daughter)") },
      ...accountFields(),
      h("h2", { text: p("ご本人について", "About the person") }),
      ...profileFields({}, false),
      statement,
      { name: "accept_proxy_statement", type: "checkbox", label: p("上の内容を確認し、同意します", "I have read the above and agree"), mustCheck: p("代理で登録するには、上の内容を確認して同意してください。", "To register as a proxy, read the above and agree.") },
    ];
    const f = form(specs, p("代理で登録する", "Register as proxy"), async (v) => {
      checkPasswords(v);
      const r = await api("POST", "/api/v1/proxies", {
        login_id: v.login_id || "",
        password: v.password || "",
        display_name: v.display_name || "",
        relation: v.relation || "",
        relation_detail: v.relation_detail,
        accept_proxy_statement: v.accept_proxy_statement,
        resident: profileBody(v),
      });
      sessionStorage.setItem(TOKEN, r.token);
      if (r.resident_id) sessionStorage.setItem(RID, r.resident_id);
      f.reset();
      go("home", { pair: p("登録しました。次に、ご本人の情報を入力しましょう。", "Registered. Next, add the person's information."), kind: "ok" });
    });
    $("proxy-form").appendChild(f);
  },

  async home() {
    delete $("home-state").dataset.held;
    $("reconfirm").replaceChildren();
    // Nothing to add or show without a record of someone.
    for (const el of [$("steps"), document.querySelector("#view-home .tiles")]) el.hidden = !state.profile;
    if (!state.profile) {
      // A registration of a person already registered is held for the city (issue 19).
      const pending = state.held.some((x) => x.status === "pending");
      const rejected = !pending && state.held.some((x) => x.status === "rejected");
      if (pending || rejected) {
        flash = null;
        setText($("home-title"), pending ? p("登録を受け付けました", "Registration received") : p("この登録は受け付けられませんでした", "This registration was not accepted"));
        $("home-state").hidden = false;
        $("home-state").className = pending ? "lead" : "lead warn-box";
        $("home-state").dataset.held = pending ? "pending" : "rejected";
        setText($("home-state"), pending
          ? p("市が登録の内容を確認しています。確認が終わると、ここでご本人の情報を入力・確認できます。お急ぎの場合は市役所にお問い合わせください。", "The city is checking this registration. When it is done, you can add and check the person's information here. If it is urgent, please contact the city office.")
          : p("くわしくは市役所にお問い合わせください。", "Please contact the city office for details."));
        return;
      }
      setText($("home-title"), p("代わりに登録している方がいません", "Nobody is registered under this login"));
      $("home-state").hidden = true;
      return;
    }
    await loadRecord();
    renderWho();
    const name = fullName(state.profile);
    $("home-title").replaceChildren(user(name), h("span", { text: p(" さんの救急情報", " — emergency information") }));
    const consent = currentConsent();
    const withdrawn = state.profile.status !== "active";
    $("home-state").hidden = false;
    setText($("home-state"), withdrawn
      ? p("支援中止中です。救急隊などは情報を見られません。再開するには、同意をもう一度登録してください。", "Support is stopped (支援中止): nobody can see this information. To restart, give consent again.")
      : p("登録されています。下のボタンから情報を見たり直したりできます。", "Registered. Use the buttons below to see or change the information."));
    $("home-state").className = withdrawn ? "lead warn-box" : "lead";
    const active = state.cards.filter((c) => c.status === "active");
    const notice = cardNotice();
    const steps = [
      [state.items.length > 0, p(`情報を入力する（${state.items.length}件）`, `Add information (${state.items.length} entries)`), "dataset"],
      [consent?.status === "granted", p("見せてよい情報を決める（同意）", "Choose what paramedics may see (consent)"), "consent"],
      [active.length > 0 && notice !== "stale", p("カードを作って印刷する", "Make the card and print it"), "card"],
    ];
    $("steps").replaceChildren(...steps.map(([done, text, view]) =>
      h("li", { class: done ? "done" : "todo" },
        h("span", { class: "mark", text: done ? p("済", "Done") : p("まだ", "To do") }), " ",
        h("a", { href: `#${view}`, text }))));
    setText($("tile-dataset"), p(`${state.items.length}件 登録済み`, `${state.items.length} entries`));
    setText($("tile-consent"), consent?.status === "granted"
      ? p(`${consent.categories.length}種類を見せてよい`, `${consent.categories.length} kinds may be shown`)
      : p("まだ決めていません", "Not chosen yet"));
    setText($("tile-card"), notice === "stale"
      ? p("カードが古くなっています", "Your card is out of date")
      : notice === "consent_changed"
        ? p("カードを作り直してください", "Make a new card")
        : active.length ? p("カードがあります", "You have a card") : p("まだありません", "No card yet"));
    renderCardNotice($("home-card"));
    if (!withdrawn) await renderReconfirm($("reconfirm"), base());
  },

  async profile() {
    renderWho();
    const box = $("profile-form");
    box.replaceChildren();
    if (!state.profile) return;
    const specs = profileFields(state.profile, true);
    box.appendChild(form(specs, p("保存する", "Save"), async (v) => {
      const body = profileBody(v);
      body.preferred_language = state.profile.preferred_language;
      await api("PUT", base(), body);
      await loadResidents();
      status(p("保存しました。", "Saved."));
      window.scrollTo(0, 0);
    }));
  },

  async dataset() {
    renderWho();
    await loadRecord();
    renderCardNotice($("dataset-card"));
    const root = $("categories");
    root.replaceChildren(...CATEGORIES.map(categorySection));
  },

  async consent() {
    renderWho();
    await loadRecord();
    const c = currentConsent();
    renderCardNotice($("consent-card"));
    const cur = $("consent-current");
    if (!c) {
      cur.replaceChildren(h("p", { class: "notice", text: p("まだ同意していません。下で選んで「この内容で同意する」を押してください。", "No consent yet. Choose below and press “Agree to this”.") }));
    } else if (c.status === "withdrawn") {
      cur.replaceChildren(h("p", { class: "warn-box", text: p("支援中止中です。同意すると再開します。", "Support is stopped (支援中止). Giving consent restarts it.") }));
    } else {
      const names = c.categories.map((k) => [...CATEGORIES, PHOTO_CONSENT].find((x) => x.key === k)?.title).filter(Boolean);
      const rec = when(c.recorded_at);
      cur.replaceChildren(h("div", { class: "notice" },
        h("p", { text: p(`いまの同意（${c.version}回目、${rec.ja}）: `, `Consent in force (version ${c.version}, ${rec.en}): `) }),
        h("p", { text: names.length ? p(names.map((n) => n.ja).join("、"), names.map((n) => n.en).join(", ")) : p("見せてよい情報はありません", "Nothing may be shown") }),
        h("p", { id: "consent-family", text: familySummary(c) })));
    }
    const granted = c?.status === "granted" ? c : null;
    const all = h("button", { type: "button", class: "secondary", text: p("すべて選ぶ", "Select all") });
    const specs = [
      h("h2", { text: p("救急隊に見せてよい情報", "What paramedics may see") }),
      h("div", { class: "actions" }, all),
      ...[...CATEGORIES, PHOTO_CONSENT].map((k) => ({ name: `cat_${k.key}`, type: "checkbox", label: k.title, hint: k.consent, value: granted?.categories.includes(k.key) })),
      h("h2", { text: p("そのほか", "Other choices") }),
      ...Object.entries(CONSENT_OPTIONS).map(([k, o]) => ({ name: k, type: "checkbox", label: o.title, hint: o.about, value: granted ? granted[k] : k === "triage_on_card" })),
      ...familySpecs(granted),
    ];
    const f = form(specs, p("この内容で同意する", "Agree to this"), async (v) => {
      const body = {
        categories: [...CATEGORIES, PHOTO_CONSENT].map((k) => k.key).filter((k) => v[`cat_${k}`]),
        disaster_use: v.disaster_use,
        triage_on_card: v.triage_on_card,
        name_on_print: v.name_on_print,
        notify_family: v.notify_family,
        family_hospital_name: v.notify_family && v.family_hospital_name,
      };
      await api("POST", `${base()}/consents`, body);
      await loadResidents();
      await RENDER.consent();
      applyLang();
      status(p("同意を登録しました。", "Your consent is recorded."));
      window.scrollTo(0, 0);
    });
    all.addEventListener("click", () => {
      for (const k of CATEGORIES) f.elements[`cat_${k.key}`].checked = true;
    });
    wireFamily(f);
    $("consent-form").replaceChildren(f);
  },

  async photo() {
    renderWho();
    await loadRecord();
    const c = currentConsent();
    await renderPhoto($("photo-body"), {
      base: base(),
      consented: c?.status === "granted" && c.categories.includes("photo"),
      done: async (pair) => {
        await RENDER.photo();
        applyLang();
        status(pair);
        window.scrollTo(0, 0);
      },
    });
  },

  async card() {
    renderWho();
    await loadRecord();
    for (const u of objectUrls.splice(0)) URL.revokeObjectURL(u);
    const root = $("cards");
    root.replaceChildren();
    const c = currentConsent();
    const active = state.cards.filter((x) => x.status === "active");
    const msg = h("p", { class: "form-error error", role: "alert", hidden: true });
    root.appendChild(msg);
    if (state.profile.status === "withdrawn") {
      root.append(...withdrawnCards(state.profile, state.cards));
      return;
    }
    if (!c || c.status !== "granted") {
      root.appendChild(h("p", { class: "notice" },
        h("span", { text: p("カードを作るには、先に", "To make a card, first ") }),
        h("a", { href: "#consent", text: p("見せてよい情報（同意）", "choose what paramedics may see (consent)") }),
        h("span", { text: p("を決めてください。", ".") })));
      return;
    }
    renderCardNotice(root.appendChild(h("div")), true);
    if (active.length === 0) {
      const make = h("button", { type: "button", class: "primary big", text: p("カードを作る", "Make my card") });
      make.addEventListener("click", async () => {
        make.disabled = true;
        try {
          await api("POST", `${base()}/cards`, {});
          await RENDER.card();
          applyLang();
          status(p("カードを作りました。印刷してください。", "Your card is ready. Print it."));
        } catch (err) {
          cardError(msg, err);
        } finally {
          make.disabled = false;
        }
      });
      root.appendChild(make);
    }
    for (const card of active) root.appendChild(await cardBlock(card, msg));
    const old = state.cards.filter((x) => x.status !== "active");
    if (old.length) {
      root.appendChild(h("details", {},
        h("summary", { text: p(`使えなくなったカード（${old.length}枚）`, `Cards no longer valid (${old.length})`) }),
        h("ul", { id: "old-cards" }, ...old.map((x) => revokedCardLine(x)))));
    }
  },

  async withdraw() {
    renderWho();
    const root = $("withdraw-body");
    root.replaceChildren();
    if (!state.profile) return;
    if (state.profile.status !== "active") {
      const purge = when(state.profile.purge_after);
      root.append(
        h("p", { class: "warn-box", text: p("支援中止中です。救急隊などは情報を見られず、カードも使えません。", "Support is stopped (支援中止). Nobody can see the information and the cards no longer work.") }),
        h("p", { text: p(`${purge.ja} に情報を削除します。それまでに再開するときは、同意をもう一度登録してください。`, `The information will be deleted on ${purge.en}. To restart before then, give consent again.`) }),
        h("p", {}, h("a", { href: "#consent", class: "button secondary", text: p("同意して再開する", "Restart by giving consent") })),
      );
      return;
    }
    root.append(
      h("p", { class: "lead", text: p("支援中止にすると、次のようになります。", "If you stop, this happens:") }),
      h("ul", { class: "plain-list" },
        h("li", { text: p("救急隊や病院は、あなたの情報を見られなくなります。", "Paramedics and hospitals can no longer see your information.") }),
        h("li", { text: p("いまのカードと印刷物は、すべて使えなくなります。", "Your cards and printouts stop working.") }),
        h("li", { text: p("情報は決められた期間（ふつうは90日）のあとで削除されます。それまでは、同意し直せば再開できます。", "The information is deleted after a set period (normally 90 days). Until then you can restart by giving consent again.") }),
        h("li", { text: p("だれが見たかの記録は残り、あなたが確かめられます。", "The record of who looked is kept, and you can still check it.") })),
    );
    const specs = [{ name: "reason", type: "textarea", label: p("やめる理由", "Why you are stopping") }];
    const f = form(specs, p("支援中止する", "Stop (支援中止)"), async (v) => {
      const ok = await ask({
        title: p("本当に支援中止しますか？", "Really stop?"),
        body: p("救急隊はあなたの情報を見られなくなり、カードも使えなくなります。", "Paramedics will no longer see your information and your cards stop working."),
        confirm: p("はい、支援中止する", "Yes, stop"),
        danger: true,
      });
      if (!ok) return;
      const r = await api("POST", `${base()}/withdrawal`, { reason: v.reason });
      await loadResidents();
      await RENDER.withdraw();
      applyLang();
      const purge = when(r.purge_after);
      status(p(`支援中止しました。カード${r.cards_revoked}枚を使えなくしました。${purge.ja} に情報を削除します。`, `Stopped. ${r.cards_revoked} card(s) revoked. The information will be deleted on ${purge.en}.`));
      window.scrollTo(0, 0);
    });
    f.querySelector("button[type=submit]").className = "danger";
    root.appendChild(f);
  },
};

/**
 * What the person must know about their card now: `stale` (an active card's key flags no longer
 * match the information and consent: the server compares them on every read), `consent_changed`
 * (no active card, and the latest was withdrawn because a consent change no longer allowed its
 * key flags), or null.
 */
function cardNotice() {
  const active = state.cards.filter((c) => c.status === "active");
  if (active.some((c) => c.stale)) return "stale";
  const latest = state.cards[0]; // newest first
  if (!active.length && latest?.revoke_reason === "consent_changed" && currentConsent()?.status === "granted") return "consent_changed";
  return null;
}

/** The card notice in `el`, with a one-tap "make a new card" (in the card view, a withdrawn card's
 * notice leaves that to the view's own "make my card" button). */
function renderCardNotice(el, inCardView = false) {
  const kind = cardNotice();
  if (!kind) {
    el.replaceChildren();
    return;
  }
  const text = kind === "stale"
    ? p("カードの情報が古くなりました。入力した情報（お薬など）か、見せてよい情報の選び方が変わったため、カードに入っている大事な印が、いまの内容と違います。救急隊がオンラインで読めば最新の情報が表示されますが、新しいカードを作って印刷してください。",
      "Your card is out of date: your information (such as medicines) or what you chose to share changed, so the key flags on the card no longer match. Paramedics reading it online see the latest, but please make a new card and print it.")
    : p("同意を変えたので、これまでのカードは使えなくしました（カードの大事な印が、いまは見せないことにした情報から作られていたため）。新しいカードを作って印刷してください。",
      "Because you changed your consent, your card was withdrawn: its key flags came from information you no longer share. Make a new card and print it.");
  const box = h("div", { class: "warn-box card-notice", dataset: { notice: kind } }, h("p", { text }));
  if (!(inCardView && kind === "consent_changed")) {
    const make = h("button", { type: "button", class: "primary big", text: p("新しいカードを作る", "Make a new card") });
    make.addEventListener("click", async () => {
      make.disabled = true;
      try {
        const stale = state.cards.filter((c) => c.status === "active" && c.stale);
        if (stale.length) for (const c of stale) await api("POST", `${base()}/cards/${c.id}/reissue`, {});
        else await api("POST", `${base()}/cards`, {});
        go("card", { pair: p("新しいカードを作りました。印刷してください。", "A new card is ready. Print it."), kind: "ok" });
      } catch (err) {
        if (!(err instanceof ApiFailure)) throw err;
        status(errorPair(err), "error");
        make.disabled = false;
      }
    });
    box.appendChild(make);
  }
  el.replaceChildren(box);
  applyLang(el);
}

function cardError(msg, err) {
  if (!(err instanceof ApiFailure)) throw err;
  setText(msg, errorPair(err));
  msg.hidden = false;
}

/** Who the pages are about, and a chooser when a proxy acts for several people. */
function renderWho() {
  const box = $("who");
  const targets = document.querySelectorAll(".who-line");
  for (const t of targets) t.remove();
  if (!state.profile) return;
  for (const v of ["profile", "dataset", "consent", "card", "withdraw"]) {
    const sec = $(`view-${v}`);
    const line = h("p", { class: "who-line" }, h("span", { text: p("対象のかた: ", "For: ") }), user(fullName(state.profile)));
    sec.insertBefore(line, sec.querySelector("h1").nextSibling);
  }
  box.replaceChildren();
  if (state.residents.length > 1) {
    const sel = h("select", { id: "who-select" });
    for (const r of state.residents) {
      const o = h("option", { value: r.id, translate: "no" }, fullName(r));
      sel.appendChild(o);
    }
    sel.value = state.rid;
    sel.addEventListener("change", () => {
      sessionStorage.setItem(RID, sel.value);
      route();
    });
    box.appendChild(h("div", { class: "field" }, h("label", { for: "who-select", text: p("だれの情報を見ますか", "Whose information") }), sel));
  }
}

// ---------------------------------------------------------------------------------------------
// The dataset editor

function categorySection(cat) {
  const sec = h("section", { class: "category", id: `cat-${cat.key}`, "aria-labelledby": `cat-${cat.key}-h` });
  sec.appendChild(h("h2", { id: `cat-${cat.key}-h`, text: cat.title }));
  sec.appendChild(h("p", { class: "hint", text: cat.about }));
  const list = h("ul", { class: "items" });
  const items = state.items.filter((i) => i.category === cat.key);
  for (const it of items) list.appendChild(itemRow(cat, it));
  if (items.length === 0) list.appendChild(h("li", { class: "empty", text: p("まだ入っていません", "Nothing yet") }));
  sec.appendChild(list);
  if (!(cat.single && items.length)) {
    const add = h("button", { type: "button", class: "secondary add", text: p("＋ 追加する", "+ Add") });
    const slot = h("div");
    add.addEventListener("click", () => {
      add.hidden = true;
      const close = () => {
        slot.replaceChildren();
        add.hidden = false;
        add.focus();
      };
      const f = addForm(cat, items.map((i) => i.body), {
        send: (body) => api("POST", `${base()}/dataset`, { category: cat.key, body }),
        refresh: (pair) => refreshDataset(pair, cat.key),
        close,
      });
      slot.replaceChildren(f);
      applyLang(slot);
      f.querySelector("input, select, textarea").focus();
    });
    sec.append(add, slot);
  }
  return sec;
}

function bodyOf(cat, v) {
  const body = {};
  for (const f of cat.fields) body[f.name] = v[f.name];
  return body;
}

function itemRow(cat, it) {
  const li = h("li", { class: "item", dataset: { item: it.id } });
  const show = () => {
    const parts = summaryParts(cat, it.body);
    const flags = cat.flags(it.body).filter(Boolean);
    const ja = summaryText(parts, "ja");
    const en = summaryText(parts, "en");
    const edit = h("button", { type: "button", class: "secondary", text: p("変更する", "Change"), aria: p(`変更する: ${ja}`, `Change: ${en}`) });
    const del = h("button", { type: "button", class: "secondary danger-text", text: p("削除する", "Delete"), aria: p(`削除する: ${ja}`, `Delete: ${en}`) });
    li.replaceChildren(
      h("div", { class: "item-text" },
        h("strong", {}, ...summaryNodes(parts)),
        ...flags.map((f) => h("span", { class: "badge info", text: f })),
        h("span", { class: "meta", text: verified(it) })),
      h("div", { class: "actions" }, edit, del));
    edit.addEventListener("click", () => editItem());
    del.addEventListener("click", async () => {
      const ok = await ask({
        title: p("削除しますか？", "Delete this?"),
        body: h("p", {}, ...summaryNodes(parts)),
        confirm: p("削除する", "Delete"),
        danger: true,
      });
      if (!ok) return;
      try {
        await api("DELETE", `${base()}/dataset/${it.id}`);
        await refreshDataset(p("削除しました。", "Deleted."), cat.key);
      } catch (err) {
        if (!(err instanceof ApiFailure)) throw err;
        status(errorPair(err), "error");
      }
    });
  };
  const editItem = () => {
    const specs = cat.fields.map((f) => ({ ...f, value: it.body[f.name] }));
    const cancel = h("button", { type: "button", class: "secondary", text: p("やめる", "Cancel") });
    const f = form(specs, p("保存する", "Save"), async (v) => {
      await api("PUT", `${base()}/dataset/${it.id}`, { body: bodyOf(cat, v) });
      await refreshDataset(p("保存しました。", "Saved."), cat.key);
    }, [cancel]);
    cancel.addEventListener("click", () => {
      show();
      applyLang(li);
    });
    li.replaceChildren(f);
    applyLang(li);
    f.querySelector("input, select, textarea").focus();
  };
  show();
  return li;
}

function verified(it) {
  const d = day(it.last_verified);
  const by = it.provenance === "proxy" ? p("（代理人が入力）", " (entered by a proxy)") : p("", "");
  return p(`確認日: ${d.ja}${by.ja}`, `checked ${d.en}${by.en}`);
}

async function refreshDataset(message, key) {
  await loadRecord();
  const old = $(`cat-${key}`);
  const cat = CATEGORIES.find((c) => c.key === key);
  const fresh = categorySection(cat);
  old.replaceWith(fresh);
  applyLang(fresh);
  renderCardNotice($("dataset-card"));
  status(message);
  fresh.querySelector("h2").tabIndex = -1;
  fresh.querySelector("h2").focus();
}

// ---------------------------------------------------------------------------------------------
// Cards and printing

async function cardBlock(card, msg) {
  const img = h("img", { class: "qr", width: 300, height: 300, alt: "" });
  setAltPair(img, p("カードの二次元コード", "The card's QR code"));
  const blob = await apiBlob(`${base()}/cards/${card.id}/qr.png?module_px=8&quiet_zone=4`);
  const url = URL.createObjectURL(blob);
  objectUrls.push(url);
  img.src = url;
  img.removeAttribute("width");
  img.removeAttribute("height");
  const issued = dateOf(card.issued_at);
  const expires = dateOf(card.expires_at);
  const printBtn = (doc, pair) => {
    const b = h("button", { type: "button", class: "primary", text: pair });
    b.addEventListener("click", async () => {
      msg.hidden = true;
      b.disabled = true;
      try {
        await printDoc(card, doc);
      } catch (err) {
        cardError(msg, err);
      } finally {
        b.disabled = false;
      }
    });
    return b;
  };
  const pdfBtn = (doc, pair) => {
    const b = h("button", { type: "button", class: "secondary", text: pair });
    b.addEventListener("click", async () => {
      msg.hidden = true;
      try {
        const pdf = await apiBlob(`${base()}/cards/${card.id}/print/${doc}.pdf`);
        const u = URL.createObjectURL(pdf);
        const a = h("a", { href: u, download: `kyukit-${doc}.pdf`, hidden: true });
        document.body.appendChild(a);
        a.click();
        a.remove();
        setTimeout(() => URL.revokeObjectURL(u), 60_000);
      } catch (err) {
        cardError(msg, err);
      }
    });
    return b;
  };
  const reissue = h("button", { type: "button", class: "secondary", text: p("なくしたとき: 作り直す", "Lost it? Make a new one") });
  reissue.addEventListener("click", async () => {
    const ok = await ask({
      title: p("カードを作り直しますか？", "Make a new card?"),
      body: p("いまのカードと印刷物は使えなくなります。新しいものを印刷してください。", "The current card and printouts stop working. Print the new ones."),
      confirm: p("作り直す", "Make a new card"),
    });
    if (!ok) return;
    try {
      await api("POST", `${base()}/cards/${card.id}/reissue`, {});
      await RENDER.card();
      applyLang();
      status(p("新しいカードを作りました。印刷してください。", "A new card is ready. Print it."));
    } catch (err) {
      cardError(msg, err);
    }
  });
  return h("article", { class: "card-block", dataset: { card: card.id } },
    h("figure", {}, img, h("figcaption", { text: p("救急隊はこのコードを読み取ります", "Paramedics scan this code") })),
    h("dl", { class: "facts" },
      h("dt", { text: p("作った日", "Issued") }), h("dd", { text: issued }),
      h("dt", { text: p("有効期限", "Valid until") }), h("dd", { text: expires }),
      h("dt", { text: p("カードの大事な印", "Key flags on the card") }),
      h("dd", { text: !card.triage ? p("入っていません", "Not included")
        : card.stale ? p("古くなっています（いまの情報と違います）", "Out of date (no longer matches your information)")
        : p("入っています", "Included") })),
    h("h2", { text: p("印刷する", "Print") }),
    h("div", { class: "actions" },
      printBtn("fridge-sheet", p("冷蔵庫に貼る用紙を印刷", "Print the fridge sheet")),
      printBtn("wallet-card", p("財布用カードを印刷", "Print the wallet card"))),
    h("div", { class: "actions" },
      pdfBtn("fridge-sheet", p("冷蔵庫用をPDFで保存", "Save fridge sheet as PDF")),
      pdfBtn("wallet-card", p("財布用をPDFで保存", "Save wallet card as PDF"))),
    h("div", { class: "actions" }, reissue));
}

function setAltPair(img, pair) {
  img.dataset.altJa = pair.ja;
  img.dataset.altEn = pair.en;
  img.alt = pair[lang];
}
onLangChange((l) => {
  for (const img of document.querySelectorAll("img[data-alt-ja]")) img.alt = l === "ja" ? img.dataset.altJa : img.dataset.altEn;
});

/** Prints the PNG printable: only it is shown on paper (see @media print in pages.css). */
async function printDoc(card, doc) {
  const blob = await apiBlob(`${base()}/cards/${card.id}/print/${doc}.png`);
  const url = URL.createObjectURL(blob);
  objectUrls.push(url);
  const area = $("print-area");
  const img = h("img", { src: url, alt: "" });
  area.className = doc;
  area.replaceChildren(img);
  await img.decode();
  area.dataset.ready = doc;
  window.print();
}

// ---------------------------------------------------------------------------------------------

$("logout").addEventListener("click", async () => {
  await logout();
  sessionStorage.removeItem(RID);
  go("welcome");
});

// The session ended while the person was working: log in again over the page (nothing typed is
// lost), then carry on; if they decline, back to the start.
onUnauthorized(async () => {
  const ok = await relogin();
  if (!ok) {
    sessionStorage.removeItem(TOKEN);
    sessionStorage.removeItem(RID);
    go("welcome", { pair: p("ログインの有効期限が切れました。もう一度ログインしてください。", "Your session has ended. Please log in again."), kind: "error" });
  } else if (viewFailed) {
    route();
  } else {
    status(p("ログインしました。もう一度、さきほどのボタンを押してください。", "Logged in. Please press the button again."));
  }
});

window.addEventListener("hashchange", () => {
  $("status").hidden = true;
  route();
});

initLangButton();
route();
