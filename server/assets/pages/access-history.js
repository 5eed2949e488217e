// The resident's (or proxy's) access history: who looked at, changed or was refused their record.
// Talks to the JSON API with a bearer session kept in sessionStorage (this tab only).

import { lang, onLangChange, initLangButton } from "./common.js";

const T = {
  ja: {
    when: "日時（日本時間）", time: "時刻（日本時間）", today: "（今日）", yesterday: "（昨日）", who: "だれが", what: "何を", why: "理由", result: "結果",
    ok: "許可", denied: "拒否", failed: "失敗", you: "あなた自身", system: "システム",
    none: "記録はまだありません。", loginFailed: "ログインIDまたはパスワードが違います。",
    error: "読み込めませんでした。時間をおいてもう一度お試しください。",
    roles: { resident: "本人", proxy: "代理人（家族・ケアマネジャー）", paramedic: "救急隊員", ed_staff: "病院救急外来", facility_manager: "施設管理者", city_admin: "市の管理者", disaster_responder: "災害対応者" },
    purposes: { scan: "カードの読み取り", break_glass: "緊急検索（カードなし）", reread: "再表示", disaster: "災害時の利用", disclosure_request: "本人からの開示請求", incident: "救急搬送（病院への事前連絡）", escalation: "病院への再通知", handover: "搬送先病院への引き継ぎ", registration: "登録の確認", photo: "本人確認用の写真" },
    actions: {
      "record.scan": "救急情報の表示（カード）", "record.break_glass": "救急情報の表示（緊急検索）", "record.read": "救急情報の再表示",
      "dataset.write": "情報の登録・変更", "consent.grant": "同意の登録", "consent.withdraw": "支援中止",
      "card.issue": "カードの発行", "card.revoke": "カードの無効化", "card.reissue": "カードの再発行",
      "resident.register": "登録", "proxy.register": "代理人の登録", "resident.update": "基本情報の変更",
      "login.ok": "ログイン", "login.failed": "ログイン失敗", "break_glass.review": "市による確認", "rate.throttled": "回数制限",
      "disaster.list": "災害時の一覧表示", "disaster.read": "災害時の情報表示", "resident.disclosure": "開示請求（記録の書き出し）",
      "resident.purge": "情報の削除", "account.password": "パスワードの変更", "device.request": "端末からの要求",
      "incident.open": "救急搬送の開始", "incident.read": "搬送情報の表示", "incident.report": "搬送情報の送信",
      "incident.attachment": "写真・資料の追加", "incident.attachment.read": "写真・資料の表示", "incident.inquiry": "病院への受入照会",
      "incident.answer": "病院からの回答", "incident.acknowledge": "病院が確認", "incident.destination": "搬送先の変更",
      "incident.arrival": "病院に到着", "incident.list": "搬送の一覧表示", "incident.escalate": "病院への再通知",
      "incident.dataset": "救急情報の表示（搬送記録）", "registration.held": "同じ方の登録の申し込み（市が確認）", "registration.review": "市による登録の確認",
      "record.photo": "本人確認用の写真の表示", "photo.write": "本人確認用の写真の登録・削除",
      "proxy.invite": "代理人の招待", "proxy.invite_cancel": "代理人の招待の取り消し", "proxy.accept": "代理人の招待の受諾", "proxy.remove": "代理人の解除", "family.notify": "ご家族・代理人への通知", "resident.import": "紙の救急医療情報キットから市が登録", "resident.reconfirm": "登録内容に変わりがないことの確認", "reconfirm.letter": "市からの確認のお願い（郵送）", "reconfirm.remind": "確認のお願いの通知",
    },
    other: "その他の操作", times: (n) => `（${n}回）`, range: (a, b) => `${a} 〜 ${b}`,
  },
  en: {
    when: "When (Japan time)", time: "Time (Japan)", today: " (today)", yesterday: " (yesterday)", who: "Who", what: "What", why: "Why", result: "Result",
    ok: "allowed", denied: "refused", failed: "failed", you: "you", system: "system",
    none: "Nothing recorded yet.", loginFailed: "Wrong login ID or password.",
    error: "Could not load. Please try again later.",
    roles: { resident: "the resident", proxy: "proxy (family, care manager)", paramedic: "paramedic", ed_staff: "hospital emergency department", facility_manager: "facility manager", city_admin: "city administrator", disaster_responder: "disaster responder" },
    purposes: { scan: "card scan", break_glass: "emergency search (no card)", reread: "viewed again", disaster: "disaster use", disclosure_request: "your disclosure request", incident: "ambulance transport (notice to the hospital)", escalation: "hospital re-notified", handover: "hand-over to the receiving hospital", registration: "registration check", photo: "photo for identity check" },
    actions: {
      "record.scan": "viewed emergency info (card)", "record.break_glass": "viewed emergency info (emergency search)", "record.read": "viewed emergency info again",
      "dataset.write": "added or changed information", "consent.grant": "consent recorded", "consent.withdraw": "withdrew (支援中止)",
      "card.issue": "card issued", "card.revoke": "card revoked", "card.reissue": "card reissued",
      "resident.register": "registered", "proxy.register": "proxy registered", "resident.update": "profile changed",
      "login.ok": "logged in", "login.failed": "failed login", "break_glass.review": "reviewed by the city", "rate.throttled": "rate limited",
      "disaster.list": "listed during a declared disaster", "disaster.read": "viewed during a declared disaster", "resident.disclosure": "disclosure request (export)",
      "resident.purge": "information deleted", "account.password": "password changed", "device.request": "request from a device",
      "incident.open": "ambulance transport started", "incident.read": "viewed transport information", "incident.report": "sent transport information",
      "incident.attachment": "photo or document added", "incident.attachment.read": "viewed a photo or document", "incident.inquiry": "asked a hospital to accept",
      "incident.answer": "hospital answered", "incident.acknowledge": "hospital acknowledged", "incident.destination": "destination changed",
      "incident.arrival": "arrived at hospital", "incident.list": "listed transports", "incident.escalate": "hospital re-notified",
      "incident.dataset": "viewed emergency info (transport record)", "registration.held": "someone registered you again (the city checks)", "registration.review": "registration checked by the city",
      "proxy.invite": "proxy invited", "proxy.invite_cancel": "proxy invitation cancelled", "proxy.accept": "proxy invitation accepted", "proxy.remove": "proxy removed", "family.notify": "family (proxies) notified",
      "record.photo": "viewed the photo for identity check", "photo.write": "photo for identity check added, replaced or deleted", "resident.import": "registered by the city from the paper kit", "resident.reconfirm": "confirmed nothing has changed", "reconfirm.letter": "reminder letter printed by the city", "reconfirm.remind": "reminder sent to your browsers",
    },
    other: "other operation", times: (n) => ` (${n} times)`, range: (a, b) => `${a} – ${b}`,
  },
};

let lastData = null;
const $ = (id) => document.getElementById(id);

// The language switch is shared with the other pages (common.js): the choice is remembered.
onLangChange(() => {
  if (lastData) render(lastData);
});

/**
 * The entries (newest first) by Japan day, and within a day, the entries by the same people doing
 * the same thing for the same reason with the same result collapsed into one row "… (3 times)"
 * at the newest one's place, with the span of times (an ED board's repeated reads between a
 * crew's reports are one row, not one each). Yields [{day, rows: [{e: the newest entry, n: how
 * many, first: the oldest one's time}]}].
 */
function byDay(entries) {
  const days = [];
  for (const e of entries) {
    const d = jstDay(e.at);
    let day = days[days.length - 1];
    if (!day || day.day !== d) {
      day = { day: d, at: e.at, rows: [] };
      days.push(day);
    }
    const key = JSON.stringify([e.by_self, e.role, e.facility_name, e.action, e.purpose, e.outcome]);
    day.seen ??= new Map();
    const same = day.seen.get(key);
    if (same) {
      same.n += 1;
      same.first = e.at;
    } else {
      const row = { key, e, n: 1, first: e.at };
      day.seen.set(key, row);
      day.rows.push(row);
    }
  }
  return days;
}

const jstDay = (unix) => new Intl.DateTimeFormat("en-CA", { timeZone: "Asia/Tokyo" }).format(new Date(unix * 1000));
const fmtClock = (unix) => new Intl.DateTimeFormat(lang === "ja" ? "ja-JP" : "en-GB", { timeStyle: "short", timeZone: "Asia/Tokyo" }).format(new Date(unix * 1000));
const fmtDay = (unix) => new Intl.DateTimeFormat(lang === "ja" ? "ja-JP" : "en-GB", {
  year: "numeric", month: "long", day: "numeric", weekday: "short", timeZone: "Asia/Tokyo",
}).format(new Date(unix * 1000));

function cell(row, label, text) {
  const td = document.createElement("td");
  td.dataset.label = label;
  td.textContent = text;
  row.appendChild(td);
  return td;
}

function render(data) {
  const t = T[lang];
  const root = $("history");
  root.replaceChildren();
  const today = jstDay(Date.now() / 1000);
  const yesterday = jstDay(Date.now() / 1000 - 86400);
  for (const { profile, entries } of data) {
    const h = document.createElement("h2");
    h.setAttribute("translate", "no"); // a person's name, as entered
    h.textContent = `${profile.family_name} ${profile.given_name}`;
    root.appendChild(h);
    if (entries.length === 0) {
      const p = document.createElement("p");
      p.textContent = t.none;
      root.appendChild(p);
      continue;
    }
    for (const { day, at, rows } of byDay(entries)) {
      const section = document.createElement("section");
      section.className = "history-day";
      section.dataset.day = day;
      const h3 = document.createElement("h3");
      const rel = day === today ? t.today : day === yesterday ? t.yesterday : "";
      h3.textContent = fmtDay(at) + rel;
      section.appendChild(h3);
      const table = document.createElement("table");
      const head = table.createTHead().insertRow();
      for (const k of ["time", "who", "what", "why", "result"]) {
        const th = document.createElement("th");
        th.scope = "col";
        th.textContent = t[k];
        head.appendChild(th);
      }
      const body = table.createTBody();
      for (const { e, n, first } of rows) {
        const tr = body.insertRow();
        if (e.outcome !== "ok") tr.className = "denied";
        else if (e.purpose === "break_glass") tr.className = "emergency";
        const [from, to] = [fmtClock(first), fmtClock(e.at)];
        cell(tr, t.time, from === to ? to : t.range(from, to));
        const facility = lang === "ja" ? e.facility_name : (e.facility_name_en || e.facility_name);
        // Codes never show: an unknown role, action or purpose (a newer server) reads as words.
        const role = e.by_self ? t.you : (e.role ? (t.roles[e.role] || t.other) : t.system);
        cell(tr, t.who, facility ? (lang === "ja" ? `${role}（${facility}）` : `${role} (${facility})`) : role);
        const what = cell(tr, t.what, t.actions[e.action] || t.other);
        if (n > 1) {
          const c = document.createElement("span");
          c.className = "count";
          c.textContent = t.times(n);
          what.appendChild(c);
        }
        const why = cell(tr, t.why, e.purpose ? (t.purposes[e.purpose] || t.other) : "—");
        if (e.purpose === "break_glass") {
          const b = document.createElement("span");
          b.className = "badge bg";
          b.textContent = lang === "ja" ? " 市が確認します" : " reviewed by the city";
          why.append(" ", b);
        }
        const res = cell(tr, t.result, t[e.outcome] || t.other);
        if (e.outcome !== "ok") res.classList.add("error");
      }
      section.appendChild(table);
      root.appendChild(section);
    }
  }
  root.hidden = false;
}

async function api(path, opts = {}) {
  const token = sessionStorage.getItem("kyukit.token");
  const headers = { ...(opts.headers || {}) };
  if (token) headers.Authorization = `Bearer ${token}`;
  const r = await fetch(path, { ...opts, headers });
  if (r.status === 401) {
    sessionStorage.removeItem("kyukit.token");
    showLogin();
    throw new Error("unauthorized");
  }
  if (!r.ok) throw new Error((await r.json()).error);
  return r.json();
}

function showLogin() {
  $("login").hidden = false;
  $("history").hidden = true;
  $("logout").hidden = true;
}

async function load() {
  try {
    const me = await api("/api/v1/me/residents");
    const data = [];
    for (const profile of me.residents) {
      const h = await api(`/api/v1/residents/${profile.id}/access-history`);
      data.push({ profile, entries: h.entries });
    }
    lastData = data;
    $("login").hidden = true;
    $("logout").hidden = false;
    render(data);
  } catch (e) {
    if (e.message !== "unauthorized") {
      $("history").textContent = T[lang].error;
      $("history").hidden = false;
    }
  }
}


$("login").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  const f = new FormData(ev.target);
  const code = new URLSearchParams(location.search).get("municipality");
  const r = await fetch(code ? `/api/v1/sessions?municipality=${encodeURIComponent(code)}` : "/api/v1/sessions", {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ login_id: f.get("login_id"), password: f.get("password") }),
  });
  if (!r.ok) {
    $("login-error").textContent = T[lang].loginFailed;
    $("login-error").hidden = false;
    return;
  }
  $("login-error").hidden = true;
  sessionStorage.setItem("kyukit.token", (await r.json()).token);
  ev.target.reset();
  load();
});

$("logout").addEventListener("click", async () => {
  await fetch("/api/v1/sessions/current", { method: "DELETE", headers: { Authorization: `Bearer ${sessionStorage.getItem("kyukit.token")}` } });
  sessionStorage.removeItem("kyukit.token");
  lastData = null;
  showLogin();
});

initLangButton();
if (sessionStorage.getItem("kyukit.token")) load(); else showLogin();
