// 家族・ケアマネジャー / Family and care manager (issue 27): the resident invites a family member
// or care manager with a one-time code (shown once, with a link), sees and removes proxies (with
// confirmation); the invitee's page shows the proxy statement verbatim and accepts it — logged in
// with a proxy account, or registering one with the code. The API is docs/api.md *Proxies added
// later*; this module only draws it.

import { p, h, user, when, api, ApiFailure, form, ask, say, qrImage, TOKEN } from "./common.js";

export const RELATIONS = [
  ["family", p("家族", "Family")],
  ["relative", p("親族", "Relative")],
  ["care_manager", p("ケアマネジャー", "Care manager")],
  ["guardian", p("後見人", "Guardian")],
  ["other", p("その他", "Other")],
];
const relationWord = (r) => (RELATIONS.find(([k]) => k === r) || [r, p(r, r)])[1];

/** The statement a proxy accepts; the server records this exact text (service/residents.rs). */
export const PROXY_STATEMENT_JA = "私は本人の家族・親族または支援者として、本人の同意を得て（本人が同意できない場合は家族として）、本人の救急医療情報を登録します。";
export const PROXY_STATEMENT_EN = "As the person's family member, relative or supporter, I register their emergency medical information with their consent (or, if they cannot consent, as their family).";

/** Where an invite code waits while its holder logs in (this tab only). */
export const PENDING_CODE = "kyukit.invite";

function statement() {
  return h("div", { class: "statement", id: "proxy-statement" },
    h("h2", { text: p("代理人として確認すること", "What you confirm as a proxy") }),
    h("p", { lang: "ja" }, PROXY_STATEMENT_JA),
    h("p", { class: "translation", text: p("（この文をそのまま記録します）", `In English: ${PROXY_STATEMENT_EN}`) }));
}

/** The family view: invite, the new code, the proxies (remove with confirmation). */
export async function renderFamily(root, { rid, status }) {
  const [list, invites] = await Promise.all([
    api("GET", `/api/v1/residents/${rid}/proxies`),
    api("GET", `/api/v1/residents/${rid}/proxy-invites`).catch((err) => {
      if (err instanceof ApiFailure && err.status === 403) return null; // a proxy does not invite
      throw err;
    }),
  ]);
  const out = h("div", { id: "invite-result" });
  const parts = [];
  if (invites) {
    const f = form(
      [
        { name: "relation", type: "select", label: p("招待する人との関係", "Their relation to you"), options: RELATIONS, required: true, value: "family" },
        { name: "relation_detail", label: p("くわしい内容（例: 長女、○○居宅介護支援事業所）", "Details (e.g. eldest daughter, care office)") },
      ],
      p("招待コードをつくる", "Make an invite code"),
      async (v) => {
        const r = await api("POST", `/api/v1/residents/${rid}/proxy-invites`, { relation: v.relation, relation_detail: v.relation_detail || null });
        const link = new URL(r.link, location.origin).href;
        out.replaceChildren(h("div", { class: "notice", id: "new-invite" },
          h("h3", { text: p("招待コード（この画面で一度だけ表示します）", "Invite code (shown only this once)") }),
          h("p", { class: "code", id: "invite-code", translate: "no" }, r.code),
          h("p", { text: p(`有効期限: ${when(r.expires_at).ja}。コードか次のリンクを、招待する人に直接渡してください。`, `Valid until ${when(r.expires_at).en}. Give the code or this link to the person directly.`) }),
          h("p", {}, h("a", { href: link, id: "invite-link", translate: "no" }, link)),
          h("p", { text: p("招待する人がそばにいるときは、その人のスマートフォンのカメラでこの二次元コードを読み取ってもらうと、リンクが開きます。", "If the person is with you, they can open the link by pointing their phone's camera at this QR code.") }),
          qrImage(r.qr_svg, p("招待リンクの二次元コード（スマートフォンのカメラで読み取れます）", "The invite link as a QR code (for a phone's camera)"), "invite-qr")));
        say(status, p("招待コードをつくりました。", "Invite code made."));
      });
    parts.push(h("h2", { text: p("家族・ケアマネジャーを招待する", "Invite family or a care manager") }),
      h("p", { text: p("招待された人は、代理人としてあなたの情報を見て、入力できるようになります。いつでも解除できます。", "The person you invite can see and enter your information as your proxy. You can remove them at any time.") }),
      f, out);
  }
  const rows = list.proxies.map((x) => {
    const remove = h("button", {
      type: "button", class: "danger", "data-proxy": x.display_name,
      text: x.is_me ? p("代理人をやめる", "Step down") : p("解除する", "Remove"),
    });
    remove.addEventListener("click", async () => {
      const ok = await ask({
        title: p("代理人を解除しますか", "Remove this proxy?"),
        body: p(`${x.display_name} さんは、すぐにあなたの情報を見られなくなります。`, `${x.display_name} will no longer see your information, from now on.`),
        confirm: p("解除する", "Remove"),
        danger: true,
      });
      if (!ok) return;
      await api("DELETE", `/api/v1/residents/${rid}/proxies/${x.id}`);
      say(status, p("解除しました。", "Removed."));
      await renderFamily(root, { rid, status });
    });
    return h("li", { class: "proxy" },
      h("p", {}, user(x.display_name),
        h("span", { text: p(`（${relationWord(x.relation).ja}`, ` (${relationWord(x.relation).en}`) }),
        x.relation_detail ? [h("span", { text: p("・", ", ") }), user(x.relation_detail)] : null,
        h("span", { text: p("）", ")") })),
      h("p", { class: "muted", text: p(`${when(x.consented_at).ja} に代理人の確認に同意`, `Accepted the proxy statement on ${when(x.consented_at).en}`) }),
      remove);
  });
  parts.push(h("h2", { text: p("いまの代理人", "Current proxies") }),
    rows.length ? h("ul", { class: "proxies", id: "proxy-list" }, rows) : h("p", { id: "proxy-list", text: p("代理人はいません。", "No proxies.") }));
  root.replaceChildren(...parts);
}

/** The invitee's page: the statement verbatim, then accept (logged in) or register with the code. */
export function renderAccept(root, { code, loggedIn, go }) {
  if (!code) {
    root.replaceChildren(h("p", { text: p("招待コードがありません。リンクをもう一度開いてください。", "No invite code: open the link again.") }));
    return;
  }
  sessionStorage.setItem(PENDING_CODE, code);
  const codeLine = h("p", {}, h("span", { text: p("招待コード: ", "Invite code: ") }), h("span", { translate: "no", class: "code" }, code));
  const accepted = (r) => {
    sessionStorage.removeItem(PENDING_CODE);
    if (r.resident_id) sessionStorage.setItem("kyukit.rid", r.resident_id);
    go("home", { pair: p("代理人になりました。", "You are now a proxy."), kind: "ok" });
  };
  if (loggedIn) {
    const f = form([statement(), { name: "accept_proxy_statement", type: "checkbox", label: p("上の内容を確認し、同意します", "I have read the above and agree") }],
      p("同意して代理人になる", "Agree and become a proxy"),
      async (v) => accepted(await api("POST", "/api/v1/proxy-invites/accept", { code, accept_proxy_statement: v.accept_proxy_statement })));
    root.replaceChildren(codeLine, f);
    return;
  }
  const f = form([
    h("p", { text: p("はじめての方は、ここでアカウントをつくります。すでにアカウントがある方は、ログインしてからこのリンクをもう一度開いてください。", "New here? Make an account below. Already have one? Log in, then open this link again.") }),
    { name: "display_name", label: p("あなたのお名前", "Your name"), required: true, autocomplete: "name" },
    { name: "login_id", label: p("ログインID", "Login ID"), required: true, autocomplete: "username" },
    { name: "password", type: "password", label: p("パスワード（10文字以上）", "Password (10 characters or more)"), required: true, autocomplete: "new-password" },
    statement(),
    { name: "accept_proxy_statement", type: "checkbox", label: p("上の内容を確認し、同意します", "I have read the above and agree") },
  ], p("登録して代理人になる", "Register and become a proxy"), async (v) => {
    const r = await api("POST", "/api/v1/proxy-invites/register", { code, login_id: v.login_id || "", password: v.password || "", display_name: v.display_name || "", accept_proxy_statement: v.accept_proxy_statement });
    sessionStorage.setItem(TOKEN, r.token);
    accepted(r);
  });
  root.replaceChildren(codeLine, f, h("p", {}, h("a", { href: "#welcome", text: p("ログインする", "Log in") })));
}
