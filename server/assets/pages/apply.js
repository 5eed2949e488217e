// The public application for a facility to join (issue 26): a form for
// POST /api/v1/facility-applications (every problem shown at once, focus on the first), then the
// link to this application's status page, shown once; the status page reads
// GET /api/v1/facility-applications/{id}?token=… and says in plain words whether the city is
// still checking, approved or declined. The token travels in the URL's fragment (#id=…&token=…),
// which the browser never sends to a server.

import { p, h, user, applyLang, initLangButton, when, api, ApiFailure, form, errorText } from "./common.js";

const $ = (id) => document.getElementById(id);

const KINDS = [
  ["hospital", p("病院", "Hospital")],
  ["clinic", p("診療所", "Clinic")],
  ["pharmacy", p("薬局", "Pharmacy")],
  ["care_provider", p("介護事業所", "Care provider")],
  ["support_center", p("地域包括支援センター", "Community support centre")],
  ["fire_department", p("消防本部・救急", "Fire department / ambulance")],
];

const PHONE = /^[0-9+\-() ]{3,20}$/;
const checkPhone = (v) => (PHONE.test(v) && /[0-9]/.test(v) ? null : errorText({ code: "invalid_phone" }));
const checkEmail = (v) => {
  const m = /^([^\s@]{1,64})@([^\s@]+)$/.exec(v);
  const ok = m && m[2].includes(".") && !m[2].startsWith(".") && !m[2].endsWith(".") && !m[2].includes("..");
  return ok ? null : errorText({ code: "invalid_email" });
};
const checkLen = (max) => (v) => (v.length > max ? p(`${max}文字までで入力してください。`, `Use at most ${max} characters.`) : null);

const SPECS = [
  { name: "kind", type: "select", label: p("施設の種類", "Kind of facility"), required: true, options: KINDS },
  { name: "name_ja", label: p("施設名（日本語）", "Facility name in Japanese"), required: true, autocomplete: "organization", check: checkLen(100), hint: p("例: 常総中央病院", "In Japanese script, as on your sign") },
  { name: "name_en", label: p("施設名（英語・ローマ字）", "Facility name in English (or romaji)"), required: true, check: checkLen(100), hint: p("例: Joso Central Hospital", "e.g. Joso Central Hospital") },
  { name: "address", label: p("所在地", "Address"), required: true, autocomplete: "street-address", check: checkLen(200) },
  { name: "phone", type: "tel", label: p("施設の電話番号", "Facility phone"), required: true, autocomplete: "tel", inputmode: "tel", check: checkPhone },
  { name: "contact_email", type: "email", label: p("連絡先メールアドレス", "Contact e-mail"), required: true, autocomplete: "email", inputmode: "email", check: checkEmail, hint: p("市からの連絡に使います。", "The city uses it to contact you.") },
  { name: "manager_name", label: p("システム担当者のお名前", "Name of the person in charge of the system"), required: true, autocomplete: "name", check: checkLen(100), hint: p("市が確認の電話をする相手です。参加が認められると、この方が施設の管理者になります。", "The city calls this person to check. Once approved, they manage the facility's accounts.") },
  { name: "manager_phone", type: "tel", label: p("システム担当者の電話番号", "Phone of the person in charge"), required: true, autocomplete: "tel", inputmode: "tel", check: checkPhone },
  { name: "listed", type: "checkbox", label: p("公開の施設一覧に載せてよい", "List us in the public directory"), hint: p("参加している施設として、市の公開ページに施設名と種類を載せます。", "The city's public page shows your facility's name and kind among the participating facilities.") },
];

/** The API names the manager's fields `system_manager.name`/`.phone`; the form calls them manager_…. */
function fieldOf(err) {
  const m = /^system_manager\.(name|phone): (.*)$/.exec(err.message || "");
  return m ? new ApiFailure(err.status, err.code, `manager_${m[1]}: ${m[2]}`) : err;
}

function renderForm() {
  const f = form(SPECS, p("申請する", "Apply"), async (v) => {
    let s;
    try {
      s = await api("POST", "/api/v1/facility-applications", {
        kind: v.kind, name_ja: v.name_ja, name_en: v.name_en, address: v.address, phone: v.phone,
        contact_email: v.contact_email, system_manager: { name: v.manager_name, phone: v.manager_phone }, listed: v.listed,
      });
    } catch (err) {
      throw err instanceof ApiFailure ? fieldOf(err) : err;
    }
    renderSubmitted(s, v);
  });
  $("apply-form").replaceChildren(f);
}

const statusLink = (id, token) => `${location.origin}/pages/apply#id=${encodeURIComponent(id)}&token=${encodeURIComponent(token)}`;

function renderSubmitted(s, v) {
  const link = statusLink(s.application_id, s.status_token);
  $("submitted-body").replaceChildren(
    h("p", { class: "lead", text: p(`「${v.name_ja}」の参加申請を受け付けました。市が内容を確かめます。`, `The application for ${v.name_en} was received. The city will check it.`) }),
    h("div", { class: "notice secret" },
      h("p", {}, h("strong", { text: p("申請状況のページ（このリンクは一度だけ表示されます）", "The page for your application (this link is shown only once)") })),
      h("p", { text: p("このリンクを保存するか、印刷してください。結果はこのページで確かめます。リンクを知っている人はだれでも申請状況を見られます。", "Save or print this link: the result is shown on that page. Anyone with the link can see the status.") }),
      h("p", {}, h("a", { id: "status-link", href: link, translate: "no" }, h("code", { class: "wrap" }, link)))),
    h("p", { class: "actions" }, h("a", { class: "button primary", href: link, text: p("申請状況を見る", "See the status") })),
  );
  const h1 = show("submitted");
  applyLang();
  // Screen readers announce the new view; the link is the next thing read.
  h1.tabIndex = -1;
  h1.focus();
}

const KIND_OF = Object.fromEntries(KINDS);
const STATES = {
  pending: p("市が確認しています。結果が出るまでお待ちください。", "The city is checking your application. Please wait for the decision."),
  approved: p("参加が認められました。市から施設の管理者のアカウントについて連絡があります。", "Approved: your facility has joined. The city will contact you about the manager's account."),
  rejected: p("参加は認められませんでした。", "The application was not approved."),
};
const STATE_TITLE = { pending: p("確認中", "Being checked"), approved: p("承認されました", "Approved"), rejected: p("承認されませんでした", "Not approved") };
const TYPE_OF = { application: p("参加の申請", "Application to join"), change: p("登録内容の変更", "Change of details"), withdrawal: p("退会", "Withdrawal") };

async function renderStatus(id, token) {
  const body = $("status-body");
  let s;
  try {
    s = await api("GET", `/api/v1/facility-applications/${encodeURIComponent(id)}?token=${encodeURIComponent(token)}`);
  } catch (err) {
    if (!(err instanceof ApiFailure)) throw err;
    body.replaceChildren(h("p", { class: "warn-box", role: "alert", text: err.status === 404
      ? p("申請が見つかりません。リンクが途中で切れていないか確かめてください。", "No application was found. Check that the link is complete.")
      : errorText(err) }));
    return;
  }
  const state = STATES[s.status] ? s.status : "pending";
  const sent = when(s.submitted_at);
  const rows = [
    [p("申請の種類", "Request"), TYPE_OF[s.request_type] || TYPE_OF.application],
    s.kind && [p("施設の種類", "Kind of facility"), KIND_OF[s.kind] || p("その他", "Other")],
    s.name_ja && [p("施設名", "Facility name"), p(s.name_ja, s.name_en || s.name_ja), true],
    [p("申請日時（日本時間）", "Submitted (Japan time)"), sent],
    s.decided_at && [p("結果が出た日時（日本時間）", "Decided (Japan time)"), when(s.decided_at)],
  ].filter(Boolean);
  body.replaceChildren(
    h("div", { id: "application-state", class: state === "rejected" ? "warn-box" : "notice", dataset: { state } },
      h("p", {}, h("strong", { text: STATE_TITLE[state] })),
      h("p", { text: STATES[state] }),
      ...(s.reason ? [h("p", {}, h("span", { text: state === "rejected" ? p("市からの理由: ", "The city's reason: ") : p("市からのひとこと: ", "The city's note: ") }), user(s.reason))] : [])),
    h("dl", { class: "facts" }, ...rows.flatMap(([k, v, own]) => [h("dt", { text: k }), own ? h("dd", { translate: "no", text: v }) : h("dd", { text: v })])),
    h("p", { class: "hint", text: p("このページを開き直すと、最新の状況が表示されます。", "Open this page again to see the latest status.") }),
  );
}

function show(view) {
  for (const v of ["form", "submitted", "status"]) $(`view-${v}`).hidden = v !== view;
  const h1 = $(`view-${view}`).querySelector("h1");
  document.body.dataset.view = view;
  return h1;
}

async function route() {
  delete document.body.dataset.ready;
  const q = new URLSearchParams(location.hash.slice(1));
  const id = q.get("id");
  const token = q.get("token");
  let view = "form";
  if (id && token) {
    view = "status";
    show(view);
    await renderStatus(id, token);
  } else {
    show(view);
    renderForm();
  }
  applyLang();
  document.body.dataset.ready = view;
}

initLangButton();
window.addEventListener("hashchange", () => route());
route();
