// The city administrator's console: facility applications and facilities, staff IDs, devices,
// disaster declarations, notices, break-glass reviews, signing keys and the audit head. Every
// action is an existing JSON API call (docs/api.md) with the administrator's bearer session
// (password + TOTP), kept in sessionStorage for this tab only.

import {
  TOKEN, p, h, user, applyLang, initLangButton, onLangChange, lang, when,
  api, ApiFailure, onUnauthorized, relogin, logout, form, ask, say, showError, errorText, qrImage,
} from "./common.js";
import { renderResidents } from "./admin-residents.js";

const $ = (id) => document.getElementById(id);

const KINDS = [
  ["fire_department", p("消防本部・救急", "Fire department / ambulance")],
  ["hospital", p("病院", "Hospital")],
  ["clinic", p("診療所", "Clinic")],
  ["pharmacy", p("薬局", "Pharmacy")],
  ["care_provider", p("介護事業所", "Care provider")],
  ["support_center", p("地域包括支援センター", "Community support centre")],
];
const ROLES = [
  ["city_admin", p("市の管理者", "City administrator")],
  ["facility_manager", p("施設の管理者", "Facility manager")],
  ["paramedic", p("救急隊員", "Paramedic")],
  ["ed_staff", p("救急外来の職員", "ED staff")],
  ["disaster_responder", p("災害対応者", "Disaster responder")],
];
const STAFF_ROLES = ROLES.filter(([r]) => r !== "city_admin");
const FACILITY_STATUS = {
  active: p("参加中", "active"),
  suspended: p("停止中", "suspended"),
  withdrawn: p("退会", "withdrawn"),
};
const REQUEST_TYPES = {
  application: p("新規参加", "new application"),
  change: p("変更", "change"),
  withdrawal: p("退会", "withdrawal"),
};
const REQUEST_STATUS = { pending: p("処理待ち", "pending"), approved: p("承認", "approved"), rejected: p("却下", "rejected") };
const DISASTER_STATUS = {
  scheduled: p("開始前", "scheduled"),
  active: p("宣言中", "in force"),
  renewed: p("延長済み", "renewed"),
  ended: p("終了", "ended"),
  expired: p("期間満了", "expired"),
};
const NOTICE_KINDS = [
  ["service_change", p("サービスの変更", "Service change")],
  ["planned_suspension", p("計画停止", "Planned suspension")],
  ["incident", p("障害・インシデント", "Incident")],
];
const CATEGORY_NAMES = {
  medications: p("薬", "medications"),
  conditions: p("病気", "conditions"),
  allergies: p("アレルギー", "allergies"),
  devices: p("医療機器", "devices"),
  blood_type: p("血液型", "blood type"),
  advance_directive: p("人生会議", "advance directive"),
  care_team: p("かかりつけ", "care team"),
  emergency_contacts: p("緊急連絡先", "emergency contacts"),
};
const KEY_STATUS = { active: p("使用中", "active"), retired: p("退役（検証のみ）", "retired (verify only)"), compromised: p("危殆化", "compromised") };

const opt = (list, v) => list.find(([k]) => k === v)?.[1] ?? p(v ?? "—", v ?? "—");
const yes = (b) => (b ? p("はい", "yes") : p("いいえ", "no"));
const VIEWS = ["login", "facilities", "users", "devices", "disasters", "notices", "residents", "reviews", "keys"];
let facilities = [];

function status(pair, kind = "ok") {
  say($("status"), pair, kind);
}

/** A table: columns [[header pair, cell(row) → node|pair|string]]; data-label for phones. */
function table(columns, rows, empty) {
  if (!rows.length) return h("p", { class: "notice", text: empty });
  const t = h("table", { class: "grid" });
  const head = t.createTHead().insertRow();
  for (const [title] of columns) head.appendChild(h("th", { scope: "col", text: title }));
  const body = t.createTBody();
  for (const r of rows) {
    const tr = body.insertRow();
    for (const [title, cell] of columns) {
      const td = h("td", { dataset: { labelJa: title.ja, labelEn: title.en } });
      td.dataset.label = title[lang];
      const v = cell(r);
      if (v instanceof Node) td.appendChild(v);
      else if (v && typeof v === "object") td.appendChild(h("span", { text: v }));
      else td.appendChild(user(v ?? "—"));
      tr.appendChild(td);
    }
  }
  return h("div", { class: "table-wrap" }, t);
}

function button(pair, onClick, cls = "secondary") {
  const b = h("button", { type: "button", class: cls, text: pair });
  b.addEventListener("click", onClick);
  return b;
}

const REASON = (label = p("理由", "Reason")) => ({ name: "reason", type: "textarea", label, required: true });

/** Runs an action behind a dialog; on success shows the message and re-renders the view. */
async function act(dialog, message, after) {
  const r = await ask(dialog);
  if (r === null || r === false) return null;
  status(typeof message === "function" ? message(r) : message);
  await after?.(r);
  applyLang();
  return r;
}

const facilityName = (id) => {
  const f = facilities.find((x) => x.id === id);
  return f ? p(`${f.name_ja}`, `${f.name_en}`) : p("—", "—");
};

async function loadFacilities() {
  facilities = (await api("GET", "/api/v1/facilities")).facilities;
}

// ---------------------------------------------------------------------------------------------

const RENDER = {
  residents: () => renderResidents(status),
  async login() {
    if ($("login-form").childElementCount) return;
    const f = form(
      [
        { name: "login_id", label: p("ログインID", "Login ID"), required: true, autocomplete: "username" },
        { name: "password", type: "password", label: p("パスワード", "Password"), required: true, autocomplete: "current-password" },
        { name: "totp", label: p("確認コード（6けた）", "Code (6 digits)"), required: true, autocomplete: "one-time-code", inputmode: "numeric" },
      ],
      p("ログインする", "Log in"),
      async (v, f) => {
        try {
          const r = await api("POST", "/api/v1/sessions", { login_id: v.login_id || "", password: v.password || "", totp: v.totp || "" });
          sessionStorage.setItem(TOKEN, r.token);
        } catch (err) {
          if (!(err instanceof ApiFailure)) throw err;
          showError(f, err, { unauthorized: p("ログインID・パスワード・確認コードのどれかが違います。", "The login ID, password or code is wrong.") });
          return;
        }
        try {
          // Only city administrators use this console.
          await api("GET", "/api/v1/audit/head");
        } catch (err) {
          if (!(err instanceof ApiFailure)) throw err;
          await logout();
          showError(f, err, { forbidden: p("この画面は市の管理者だけが使えます。", "Only city administrators can use this console.") });
          return;
        }
        f.reset();
        go("facilities");
      },
    );
    $("login-form").appendChild(f);
  },

  async facilities() {
    const [apps] = await Promise.all([api("GET", "/api/v1/facility-applications"), loadFacilities()]);
    const pending = apps.applications.filter((a) => a.status === "pending");
    const decided = apps.applications.filter((a) => a.status !== "pending");
    const reqName = (a) => {
      const name = a.name_ja || facilities.find((f) => f.id === a.facility_id)?.name_ja;
      const en = a.name_en || facilities.find((f) => f.id === a.facility_id)?.name_en;
      return h("span", {}, user(name || "—"), h("br"), user(en || ""));
    };
    $("applications").replaceChildren(table([
      [p("受付", "Received"), (a) => when(a.submitted_at)],
      [p("種類", "Request"), (a) => REQUEST_TYPES[a.type] || p(a.type, a.type)],
      [p("施設", "Facility"), reqName],
      [p("区分", "Kind"), (a) => (a.kind ? opt(KINDS, a.kind) : null)],
      [p("連絡先", "Contact"), (a) => h("span", {}, user([a.address, a.phone, a.contact_email].filter(Boolean).join(" / ") || "—"))],
      [p("システム管理者", "System manager"), (a) => (a.system_manager ? `${a.system_manager.name} (${a.system_manager.phone})` : "—")],
      [p("名簿に掲載", "Listed"), (a) => (a.listed === null || a.listed === undefined ? null : yes(a.listed))],
      [p("備考", "Note"), (a) => a.note || "—"],
      [p("操作", "Actions"), (a) => h("div", { class: "row-actions" },
        button(p("承認", "Approve"), () => decide(a, "approve"), "primary"),
        button(p("却下", "Reject"), () => decide(a, "reject")))],
    ], pending, p("処理待ちの申請はありません。", "No pending requests.")));
    $("decided").replaceChildren(table([
      [p("処理日", "Decided"), (a) => when(a.decided_at)],
      [p("種類", "Request"), (a) => REQUEST_TYPES[a.type] || p(a.type, a.type)],
      [p("施設", "Facility"), reqName],
      [p("結果", "Result"), (a) => REQUEST_STATUS[a.status] || p(a.status, a.status)],
      [p("理由", "Reason"), (a) => a.reason || "—"],
    ], decided, p("まだありません。", "None yet.")));
    $("facility-list").replaceChildren(table([
      [p("名称", "Name"), (f) => h("span", {}, user(f.name_ja), h("br"), user(f.name_en))],
      [p("区分", "Kind"), (f) => opt(KINDS, f.kind)],
      [p("状態", "Status"), (f) => h("span", { class: `badge st-${f.status}`, text: FACILITY_STATUS[f.status] || p(f.status, f.status) })],
      [p("名簿に掲載", "Listed"), (f) => yes(f.listed)],
      [p("電話", "Phone"), (f) => f.phone],
      [p("操作", "Actions"), (f) => h("div", { class: "row-actions" },
        f.status === "active" ? button(p("停止", "Suspend"), () => facilityAction(f, "suspend"), "danger") : null,
        f.status === "suspended" ? button(p("再開", "Reinstate"), () => facilityAction(f, "reinstate")) : null,
        h("a", { href: `#devices?facility=${f.id}`, class: "button secondary", text: p("端末", "Devices") }))],
    ], facilities, p("参加施設はまだありません。", "No facilities yet.")));
  },

  async users() {
    const [list] = await Promise.all([api("GET", "/api/v1/accounts"), loadFacilities()]);
    $("account-list").replaceChildren(table([
      [p("ログインID", "Login ID"), (a) => h("code", { translate: "no" }, a.login_id)],
      [p("名前", "Name"), (a) => a.display_name],
      [p("役割", "Role"), (a) => opt(ROLES, a.role)],
      [p("施設", "Facility"), (a) => (a.facility_id ? facilityName(a.facility_id) : null)],
      [p("状態", "Status"), (a) => h("span", {},
        h("span", { class: `badge st-${a.status}`, text: a.status === "active" ? p("有効", "active") : p("停止中", "suspended") }),
        a.replaced_by ? h("span", { text: p(" 再発行済み", " replaced") }) : null,
        a.locked_until ? h("span", { text: p(" ロック中", " locked") }) : null,
        a.suspended_reason ? h("span", { class: "meta" }, " — ", user(a.suspended_reason)) : null)],
      [p("操作", "Actions"), (a) => a.is_self ? h("span", { class: "meta self-account", text: p("ご自分のIDです（別の管理者が操作します）", "Your own ID (another administrator manages it)") }) : h("div", { class: "row-actions" },
        a.status === "active" ? button(p("停止", "Suspend"), () => accountAction(a, "suspend"), "danger") : null,
        a.status !== "active" && !a.replaced_by ? button(p("再開", "Reinstate"), () => accountAction(a, "reinstate")) : null,
        !a.replaced_by ? button(p("再発行", "Reissue"), () => reissue(a)) : null)],
    ], list.accounts, p("職員のIDはまだありません。", "No staff IDs yet.")));
    const facOptions = facilities.filter((f) => f.status === "active").map((f) => [f.id, p(f.name_ja, f.name_en)]);
    const specs = [
      { name: "facility_id", type: "select", label: p("施設", "Facility"), options: facOptions, required: true },
      { name: "role", type: "select", label: p("役割", "Role"), options: STAFF_ROLES.filter(([r]) => r !== "disaster_responder"), required: true, value: "paramedic" },
      { name: "display_name", label: p("名前", "Name"), required: true },
      { name: "profession", label: p("職種（例: paramedic, nurse, physician）", "Profession (e.g. paramedic, nurse, physician)") },
      { name: "login_id", label: p("ログインID", "Login ID"), required: true },
      { name: "password", type: "password", label: p("初期パスワード（10文字以上）", "Initial password (10+ characters)"), required: true, autocomplete: "new-password" },
    ];
    $("staff-form").replaceChildren(form(specs, p("IDを発行する", "Issue the ID"), async (v) => {
      const r = await api("POST", `/api/v1/facilities/${v.facility_id}/staff`, {
        login_id: v.login_id || "", password: v.password || "", role: v.role || "", display_name: v.display_name || "", profession: v.profession,
      });
      showSecret($("staff-result"), r.login_id, r.totp);
      status(p("IDを発行しました。確認コードの設定を本人に渡してください（一度しか表示されません）。", "ID issued. Hand over the second-factor setup (shown only once)."));
      await RENDER.users();
      applyLang();
    }));
  },

  async devices() {
    await loadFacilities();
    const params = new URLSearchParams(location.hash.split("?")[1] || "");
    const sel = h("select", { id: "device-facility-select" });
    for (const f of facilities) sel.appendChild(h("option", { value: f.id, text: p(f.name_ja, f.name_en) }));
    const chosen = params.get("facility") && facilities.some((f) => f.id === params.get("facility")) ? params.get("facility") : facilities[0]?.id;
    if (!chosen) {
      $("device-facility").replaceChildren(h("p", { class: "notice", text: p("参加施設はまだありません。", "No facilities yet.") }));
      $("device-list").replaceChildren();
      $("code-form").replaceChildren();
      return;
    }
    sel.value = chosen;
    sel.addEventListener("change", () => {
      location.hash = `devices?facility=${sel.value}`;
    });
    $("device-facility").replaceChildren(h("div", { class: "field" }, h("label", { for: sel.id, text: p("施設", "Facility") }), sel));
    const list = await api("GET", `/api/v1/facilities/${chosen}/devices`);
    $("device-list").replaceChildren(table([
      [p("名前", "Label"), (d) => d.label],
      [p("状態", "Status"), (d) => h("span", { class: `badge st-${d.status}`, text: d.status === "active" ? p("有効", "active") : p("失効", "revoked") })],
      [p("登録日時", "Enrolled"), (d) => when(d.enrolled_at)],
      [p("失効日時", "Revoked"), (d) => (d.revoked_at ? when(d.revoked_at) : null)],
      [p("失効の理由", "Reason"), (d) => d.revoke_reason || "—"],
      [p("操作", "Actions"), (d) => (d.status === "active"
        ? button(p("失効させる", "Revoke"), () => revokeDevice(d), "danger")
        : h("span", { text: p("—", "—") }))],
    ], list.devices, p("この施設の端末はありません。", "This facility has no devices.")));
    $("code-form").replaceChildren(form([
      { name: "label", label: p("端末の名前（例: 救急1号車タブレット）", "Device name (e.g. Ambulance 1 tablet)"), required: true },
      { name: "ttl_minutes", type: "number", label: p("有効時間（分、最長10080）", "Valid for (minutes, at most 10080)"), value: 60, inputmode: "numeric" },
    ], p("登録コードを発行する", "Issue the code"), async (v) => {
      const r = await api("POST", `/api/v1/facilities/${chosen}/enrollment-codes`, { label: v.label || "", ttl_minutes: v.ttl_minutes ? Number(v.ttl_minutes) : null });
      const exp = when(r.expires_at);
      $("code-result").replaceChildren(h("div", { class: "notice secret" },
        h("p", { text: p("登録コード（1回だけ使えます）:", "Enrollment code (single use):") }),
        h("p", {}, h("code", { class: "big-code", translate: "no" }, r.code)),
        qrImage(r.qr_svg, p("登録コードの二次元コード（端末のカメラで読み取れます）", "The enrollment code as a QR code (for the device's camera)"), "code-qr"),
        h("p", { text: p(`有効期限: ${exp.ja}`, `Expires ${exp.en}`) })));
      applyLang($("code-result"));
    }));
  },

  async disasters() {
    const list = await api("GET", "/api/v1/disasters");
    $("disaster-list").replaceChildren(table([
      [p("状態", "Status"), (d) => h("span", { class: `badge st-${d.status}`, text: DISASTER_STATUS[d.status] || p(d.status, d.status) })],
      [p("地区", "Districts"), (d) => (d.districts.length ? d.districts.join("、") : p("市内全域", "whole municipality"))],
      [p("開始", "Starts"), (d) => when(d.starts_at)],
      [p("終了予定", "Ends"), (d) => when(d.ends_at)],
      [p("理由", "Reason"), (d) => d.reason],
      [p("操作", "Actions"), (d) => (d.status === "active" || d.status === "scheduled"
        ? h("div", { class: "row-actions" },
          button(p("延長", "Renew"), () => renewDisaster(d)),
          button(p("終了", "End"), () => endDisaster(d), "danger"))
        : h("span", { text: p("—", "—") }))],
    ], list.declarations, p("災害宣言はありません。", "No declarations.")));
    const now = Date.now();
    $("disaster-form").replaceChildren(form([
      { name: "districts", label: p("地区（読点かカンマで区切る。空なら市内全域）", "Districts (comma-separated; empty = whole municipality)") },
      { name: "starts_at", type: "datetime-local", label: p("開始（日本時間）", "Starts (Japan time)"), required: true, value: jstInput(now) },
      { name: "ends_at", type: "datetime-local", label: p("終了（日本時間、最長14日）", "Ends (Japan time, at most 14 days)"), required: true, value: jstInput(now + 3 * 86_400_000) },
      { name: "reason", type: "textarea", label: p("理由（例: 鬼怒川氾濫）", "Reason (e.g. Kinu river flood)"), required: true },
    ], p("宣言する", "Declare"), async (v, f) => {
      const ok = await ask({ title: p("災害を宣言しますか？", "Declare this disaster?"), body: p("宣言の間、災害対応者が同意した住民の情報を見られるようになります。", "While it is in force, disaster responders can read consenting residents' records."), confirm: p("宣言する", "Declare"), danger: true });
      if (!ok) return;
      await api("POST", "/api/v1/disasters", {
        districts: (v.districts || "").split(/[,、，]/).map((s) => s.trim()).filter(Boolean),
        starts_at: fromJstInput(v.starts_at),
        ends_at: fromJstInput(v.ends_at),
        reason: v.reason || "",
      });
      f.reset();
      status(p("災害を宣言しました。", "Disaster declared."));
      await RENDER.disasters();
      applyLang();
    }));
  },

  async notices() {
    const list = await api("GET", "/api/v1/notices");
    $("notice-list").replaceChildren(table([
      [p("掲載", "Published"), (n) => when(n.published_at)],
      [p("種類", "Kind"), (n) => (n.termination ? p("サービス終了", "End of service") : opt(NOTICE_KINDS, n.kind))],
      [p("題名", "Title"), (n) => h("span", {}, user(n.title_ja), h("br"), user(n.title_en))],
      [p("期間", "Period"), (n) => (n.starts_at ? p(`${when(n.starts_at).ja} 〜 ${n.ends_at ? when(n.ends_at).ja : ""}`, `${when(n.starts_at).en} – ${n.ends_at ? when(n.ends_at).en : ""}`) : null)],
      [p("操作", "Actions"), (n) => button(p("取り下げ", "Withdraw"), () => withdrawNotice(n), "danger")],
    ], list.notices, p("掲載中のお知らせはありません。", "No notices are published.")));
    $("notice-form").replaceChildren(form([
      { name: "kind", type: "select", label: p("種類", "Kind"), options: NOTICE_KINDS, required: true, value: "service_change" },
      { name: "title_ja", label: p("題名（日本語）", "Title (Japanese)"), required: true },
      { name: "title_en", label: p("題名（英語）", "Title (English)"), required: true },
      { name: "body_ja", type: "textarea", label: p("本文（日本語）", "Text (Japanese)"), required: true },
      { name: "body_en", type: "textarea", label: p("本文（英語）", "Text (English)"), required: true },
      { name: "starts_at", type: "datetime-local", label: p("開始（計画停止のとき。日本時間）", "Starts (planned suspensions; Japan time)") },
      { name: "ends_at", type: "datetime-local", label: p("終了（日本時間）", "Ends (Japan time)") },
      { name: "termination", type: "checkbox", label: p("サービスを終了する（30日以上前に知らせる）", "The service ends for good (at least 30 days' notice)") },
    ], p("お知らせを出す", "Publish"), async (v, f) => {
      await api("POST", "/api/v1/notices", {
        kind: v.kind || "", title_ja: v.title_ja || "", title_en: v.title_en || "", body_ja: v.body_ja || "", body_en: v.body_en || "",
        starts_at: v.starts_at ? fromJstInput(v.starts_at) : null,
        ends_at: v.ends_at ? fromJstInput(v.ends_at) : null,
        termination: v.termination,
      });
      f.reset();
      status(p("お知らせを出しました。", "Notice published."));
      await RENDER.notices();
      applyLang();
    }));
  },

  async reviews() {
    const [list] = await Promise.all([api("GET", "/api/v1/reviews/break-glass"), loadFacilities()]);
    $("review-list").replaceChildren(table([
      [p("日時", "When"), (r) => when(r.created_at)],
      [p("救急隊員・端末", "Paramedic and device"), (r) => h("div", {},
        user(r.paramedic_name ?? "—"), " ", h("code", { translate: "no" }, r.paramedic_login_id ?? ""), h("br"),
        h("span", { text: p("端末: ", "Device: ") }), user(r.device_label ?? "—"))],
      [p("消防本部", "Fire department"), (r) => (r.facility_name ? p(r.facility_name, r.facility_name_en || r.facility_name) : facilityName(r.facility_id))],
      [p("検索された住民", "Resident searched for"), (r) => h("div", {},
        user(r.resident_name ?? "—"), h("br"), user(r.resident_kana ?? ""), r.resident_kana ? h("br") : null, user(r.resident_date_of_birth ?? ""))],
      [p("事案番号", "Incident"), (r) => h("code", { translate: "no" }, r.incident_ref)],
      [p("理由", "Reason"), (r) => r.reason || "—"],
      [p("見た情報", "Disclosed"), (r) => p(r.categories.map((c) => CATEGORY_NAMES[c]?.ja || c).join("、"), r.categories.map((c) => CATEGORY_NAMES[c]?.en || c).join(", "))],
      [p("判断", "Decision"), (r) => h("div", { class: "row-actions" },
        button(p("妥当", "Justified"), () => review(r, "justified"), "primary"),
        button(p("不適切", "Unjustified"), () => review(r, "unjustified"), "danger"))],
    ], list.accesses, p("確認待ちはありません。", "Nothing to review.")));
    const holds = await api("GET", "/api/v1/reviews/registrations");
    const person = (r) => r ? h("div", {},
      user(`${r.family_name} ${r.given_name}`), h("br"),
      user(`${r.family_name_kana || ""} ${r.given_name_kana || ""}`.trim() || "—"), h("br"),
      user(r.date_of_birth), h("br"),
      user(r.address)) : "—";
    $("hold-list").replaceChildren(table([
      [p("日時", "When"), (r) => when(r.created_at)],
      [p("登録した人", "Registered by"), (r) => h("div", {},
        user(r.display_name), " ", h("code", { translate: "no" }, r.login_id), h("br"),
        r.kind === "proxy"
          ? h("span", {}, p(`代理人（${RELATION_NAMES[r.relation]?.ja || r.relation}）`, `proxy (${RELATION_NAMES[r.relation]?.en || r.relation})`), r.relation_detail ? " " : null, r.relation_detail ? user(r.relation_detail) : null)
          : p("本人（2回目の登録）", "the person themself (second registration)"))],
      [p("入力された内容", "As typed"), (r) => person(r.typed)],
      [p("すでにある登録", "Existing record"), (r) => h("div", {}, person(r.matched), h("br"), p(`代理人 ${r.matched_proxies}人`, `${r.matched_proxies} proxies`))],
      [p("判断", "Decision"), (r) => h("div", { class: "row-actions" },
        r.kind === "proxy" ? button(p("代理人として結びつける", "Link as proxy"), () => decideHold(r, "link"), "primary") : null,
        button(p("登録しない", "Reject"), () => decideHold(r, "reject"), "danger"))],
    ], holds.registrations, p("確認待ちの登録はありません。", "No registrations to check.")));
  },

  async keys() {
    const r = await fetch("/.well-known/jwks.json");
    const jwks = await r.json();
    const rows = await Promise.all(jwks.keys.map(async (k) => {
      try {
        const rev = await api("GET", `/api/v1/revocations/${encodeURIComponent(k.kid)}`);
        return { ...k, key_status: rev.key_status, revoked: rev.revoked.length };
      } catch {
        return { ...k, key_status: null, revoked: null };
      }
    }));
    $("key-list").replaceChildren(table([
      [p("鍵ID（kid）", "Key id (kid)"), (k) => h("code", { translate: "no" }, k.kid)],
      [p("方式", "Algorithm"), (k) => `${k.alg || "ES256"} / ${k.crv}`],
      [p("状態", "Status"), (k) => (k.key_status ? h("span", { class: `badge st-${k.key_status}`, text: KEY_STATUS[k.key_status] || p(k.key_status, k.key_status) }) : null)],
      [p("無効化したカード", "Revoked cards"), (k) => (k.revoked === null ? null : String(k.revoked))],
    ], rows, p("鍵がありません。", "No keys.")));
    const head = await api("GET", "/api/v1/audit/head");
    const read = when(head.read_at);
    $("audit-head").replaceChildren(h("dl", { class: "facts" },
      h("dt", { text: p("番号", "Sequence") }), h("dd", {}, h("code", { translate: "no" }, String(head.seq))),
      h("dt", { text: p("ハッシュ", "Hash") }), h("dd", {}, h("code", { class: "wrap", translate: "no" }, head.hash)),
      h("dt", { text: p("読み取り日時", "Read at") }), h("dd", { text: read })),
      h("p", {}, h("code", { class: "wrap", translate: "no" }, `kyukit audit verify --head ${head.seq}:${head.hash}`)));
  },
};

// ---------------------------------------------------------------------------------------------
// Actions

function decide(a, decision) {
  const name = a.name_ja || facilities.find((f) => f.id === a.facility_id)?.name_ja || "";
  const approve = decision === "approve";
  return act({
    title: approve ? p("この申請を承認しますか？", "Approve this request?") : p("この申請を却下しますか？", "Reject this request?"),
    body: h("p", {}, user(name)),
    confirm: approve ? p("承認する", "Approve") : p("却下する", "Reject"),
    danger: !approve,
    fields: [approve ? { name: "reason", type: "textarea", label: p("メモ（なくても可）", "Note (optional)") } : REASON(p("却下の理由（申請者に伝わります）", "Reason (the applicant sees it)"))],
    action: (v) => api("POST", `/api/v1/facility-applications/${a.id}/decision`, { decision, reason: v.reason }),
  }, approve ? p("承認しました。", "Approved.") : p("却下しました。", "Rejected."), RENDER.facilities);
}

function facilityAction(f, what) {
  const suspend = what === "suspend";
  return act({
    title: suspend ? p("この施設を停止しますか？", "Suspend this facility?") : p("この施設を再開しますか？", "Reinstate this facility?"),
    body: suspend
      ? p(`${f.name_ja}: 職員のログインはすべて終わり、登録した端末はすべて失効します。`, `${f.name_en}: every staff session ends and every device it enrolled is revoked.`)
      : p(f.name_ja, f.name_en),
    confirm: suspend ? p("停止する", "Suspend") : p("再開する", "Reinstate"),
    danger: suspend,
    fields: [REASON()],
    action: (v) => api("POST", `/api/v1/facilities/${f.id}/${what}`, { reason: v.reason }),
  }, suspend ? p("施設を停止しました。", "Facility suspended.") : p("施設を再開しました。", "Facility reinstated."), RENDER.facilities);
}

function accountAction(a, what) {
  const suspend = what === "suspend";
  return act({
    title: suspend ? p("このIDを停止しますか？", "Suspend this ID?") : p("このIDを再開しますか？", "Reinstate this ID?"),
    body: h("p", {}, h("code", { translate: "no" }, a.login_id), " ", user(a.display_name)),
    confirm: suspend ? p("停止する", "Suspend") : p("再開する", "Reinstate"),
    danger: suspend,
    fields: [REASON(suspend ? p("理由（漏えい・不正利用・退職など）", "Reason (leak, misuse, left…)") : p("理由", "Reason"))],
    action: (v) => api("POST", `/api/v1/accounts/${a.account_id}/${what}`, { reason: v.reason }),
  }, suspend ? p("IDを停止しました。", "ID suspended.") : p("IDを再開しました。", "ID reinstated."), RENDER.users);
}

async function reissue(a) {
  const r = await act({
    title: p("IDを再発行しますか？", "Reissue this ID?"),
    body: p("いまのIDはすぐに止まり、同じ役割・施設で新しいIDを発行します。", "The current ID stops at once and a new ID with the same role and facility is issued."),
    confirm: p("再発行する", "Reissue"),
    danger: true,
    fields: [
      REASON(p("理由（紛失・漏えいなど）", "Reason (lost, leaked…)")),
      { name: "new_login_id", label: p("新しいログインID", "New login ID"), required: true },
      { name: "new_password", type: "password", label: p("新しい初期パスワード（10文字以上）", "New initial password (10+ characters)"), required: true, autocomplete: "new-password" },
    ],
    action: (v) => api("POST", `/api/v1/accounts/${a.account_id}/reissue`, { reason: v.reason, new_login_id: v.new_login_id, new_password: v.new_password }),
  }, p("IDを再発行しました。確認コードの設定を本人に渡してください（一度しか表示されません）。", "ID reissued. Hand over the second-factor setup (shown only once)."), RENDER.users);
  if (r) {
    showSecret($("staff-result"), r.account.login_id, r.totp);
    applyLang($("staff-result"));
    $("staff-result").scrollIntoView();
  }
}

function showSecret(box, loginId, totp) {
  box.replaceChildren(h("div", { class: "notice secret" },
    h("p", { text: p("新しいIDの確認コード設定（この画面を閉じると二度と表示されません）", "The new ID's second factor (never shown again once you leave)") }),
    h("dl", { class: "facts" },
      h("dt", { text: p("ログインID", "Login ID") }), h("dd", {}, h("code", { translate: "no" }, loginId)),
      h("dt", { text: p("秘密の値", "Secret") }), h("dd", {}, h("code", { class: "wrap", translate: "no" }, totp.secret)),
      h("dt", { text: p("認証アプリ用URI", "Authenticator URI") }), h("dd", {}, h("code", { class: "wrap", translate: "no" }, totp.uri))),
    h("p", { text: p("認証アプリでこの二次元コードを読み取ってください:", "Scan this code with the authenticator app:") }),
    qrImage(totp.qr_svg, p("認証アプリ用の二次元コード", "QR code for the authenticator app"), "totp-qr")));
}

/** A QR code the server drew (an SVG document) as an image, with its alternative text. */
function revokeDevice(d) {
  return act({
    title: p("この端末を失効させますか？", "Revoke this device?"),
    body: h("p", {}, user(d.label)),
    confirm: p("失効させる", "Revoke"),
    danger: true,
    fields: [REASON(p("理由（紛失・廃棄など）", "Reason (lost, retired…)"))],
    action: (v) => api("POST", `/api/v1/devices/${d.id}/revoke`, { reason: v.reason }),
  }, p("端末を失効させました。この端末からの要求はすぐに拒否されます。", "Device revoked: its requests are refused from now on."), RENDER.devices);
}

function renewDisaster(d) {
  return act({
    title: p("災害宣言を延長しますか？", "Renew this declaration?"),
    body: p(d.reason, d.reason),
    confirm: p("延長する", "Renew"),
    fields: [{ name: "ends_at", type: "datetime-local", label: p("新しい終了（日本時間、今から最長14日）", "New end (Japan time, at most 14 days from now)"), required: true, value: jstInput(Math.max(d.ends_at * 1000, Date.now()) + 3 * 86_400_000) }],
    action: (v) => api("POST", `/api/v1/disasters/${d.id}/renew`, { ends_at: fromJstInput(v.ends_at) }),
  }, p("延長しました。", "Renewed."), RENDER.disasters);
}

function endDisaster(d) {
  return act({
    title: p("災害宣言を終了しますか？", "End this declaration?"),
    body: p("災害対応者は、すぐに住民の情報を見られなくなります。", "Disaster responders lose access at once."),
    confirm: p("終了する", "End it"),
    danger: true,
    action: () => api("POST", `/api/v1/disasters/${d.id}/end`, {}),
  }, p("災害宣言を終了しました。", "Declaration ended."), RENDER.disasters);
}

function withdrawNotice(n) {
  return act({
    title: p("このお知らせを取り下げますか？", "Withdraw this notice?"),
    body: h("p", {}, user(n.title_ja)),
    confirm: p("取り下げる", "Withdraw"),
    danger: true,
    action: () => api("DELETE", `/api/v1/notices/${n.id}`),
  }, p("取り下げました。", "Withdrawn."), RENDER.notices);
}

function review(r, decision) {
  return act({
    title: decision === "justified" ? p("妥当と記録しますか？", "Record as justified?") : p("不適切と記録しますか？", "Record as unjustified?"),
    confirm: p("記録する", "Record"),
    danger: decision !== "justified",
    fields: [{ name: "note", type: "textarea", label: p("メモ（なくても可）", "Note (optional)") }],
    action: (v) => api("POST", `/api/v1/reviews/break-glass/${r.access_id}`, { decision, note: v.note }),
  }, p("記録しました。", "Recorded."), RENDER.reviews);
}

const RELATION_NAMES = {
  family: { ja: "家族", en: "family" }, relative: { ja: "親族", en: "relative" },
  care_manager: { ja: "ケアマネジャー", en: "care manager" }, guardian: { ja: "後見人", en: "guardian" }, other: { ja: "その他", en: "other" },
};

function decideHold(r, decision) {
  return act({
    title: decision === "link"
      ? p("この代理人を、すでにある記録に結びつけますか？", "Link this proxy to the existing record?")
      : p("この登録を受け付けないことにしますか？", "Reject this registration?"),
    body: h("p", { text: decision === "link"
      ? p("代理人は、その方の救急情報を見て、変更できるようになります。本人または家族に確かめてから結びつけてください。", "The proxy will see and change this person's emergency information. Check with the person or family first.")
      : p("2つ目の記録は作られません。登録した人のログインIDは残りますが、だれの情報も見られません。", "No record is made. The registrant's login stays but sees no one's information.") }),
    confirm: decision === "link" ? p("結びつける", "Link") : p("受け付けない", "Reject"),
    danger: decision !== "link",
    action: () => api("POST", `/api/v1/reviews/registrations/${r.id}`, { decision }),
  }, p("記録しました。", "Recorded."), RENDER.reviews);
}

// Times are entered and shown in Japan time (UTC+9), whatever the browser's zone.
function jstInput(ms) {
  return new Date(ms + 9 * 3_600_000).toISOString().slice(0, 16);
}
function fromJstInput(v) {
  return Math.floor(Date.parse(`${v}:00+09:00`) / 1000);
}

// ---------------------------------------------------------------------------------------------

let flash = null;
/** Whether the current view could not load because the session had ended. */
let viewFailed = false;
/** Shows a view; `message` is shown once it has rendered. */
function go(view, message = null) {
  flash = message;
  if (location.hash === `#${view}`) route();
  else location.hash = view;
}

async function route() {
  const loggedIn = !!sessionStorage.getItem(TOKEN);
  let view = location.hash.replace(/^#/, "").split("?")[0] || "facilities";
  if (!VIEWS.includes(view)) view = "facilities";
  if (!loggedIn) view = "login";
  if (loggedIn && view === "login") view = "facilities";
  for (const v of VIEWS) $(`view-${v}`).hidden = v !== view;
  $("nav").hidden = !loggedIn;
  $("logout").hidden = !loggedIn;
  for (const a of $("nav").querySelectorAll("a")) {
    if (a.getAttribute("href") === `#${view}`) a.setAttribute("aria-current", "page");
    else a.removeAttribute("aria-current");
  }
  document.body.dataset.view = view;
  delete document.body.dataset.ready;
  viewFailed = false;
  try {
    await RENDER[view]();
  } catch (err) {
    if (!(err instanceof ApiFailure)) throw err;
    if (err.status === 401) viewFailed = true;
    else status(errorText(err), "error");
  }
  applyLang();
  if (flash) {
    status(flash.pair, flash.kind);
    flash = null;
  }
  document.body.dataset.ready = view;
}

$("logout").addEventListener("click", async () => {
  await logout();
  go("login");
});

// The session ended (15 idle minutes): log in again over the page, nothing typed is lost.
onUnauthorized(async () => {
  if (await relogin({ totp: true })) {
    if (viewFailed) route();
    else status(p("ログインしました。もう一度、さきほどのボタンを押してください。", "Logged in. Please press the button again."));
  } else {
    sessionStorage.removeItem(TOKEN);
    go("login", { pair: p("ログインの有効期限が切れました（15分操作がないと終わります）。もう一度ログインしてください。", "Your session ended (after 15 idle minutes). Please log in again."), kind: "error" });
  }
});

window.addEventListener("hashchange", () => {
  $("status").hidden = true;
  route();
});

// Table cells carry their column name for the phone layout, in the current language.
onLangChange((l) => {
  for (const td of document.querySelectorAll("td[data-label-ja]")) td.dataset.label = l === "en" ? td.dataset.labelEn : td.dataset.labelJa;
});

initLangButton();
route();
