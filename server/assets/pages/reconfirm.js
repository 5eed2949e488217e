// Yearly re-confirmation in the resident portal (issue 26): when the record is past its period
// (GET …/confirmation says `stale`), the home view asks the resident or proxy to confirm with one
// tap — "変わりありません / Nothing has changed" (POST …/confirmation, audited) — or to edit.
// Otherwise it says quietly when the next check is due.

import { p, h, api, applyLang, day, dateOf } from "./common.js";

/** Renders the prompt (or the quiet note) into `el` for the record at `base` (/api/v1/residents/<rid>). */
export async function renderReconfirm(el, base) {
  const c = await api("GET", `${base}/confirmation`);
  el.dataset.stale = c.stale ? "yes" : "no";
  if (!c.stale) {
    el.replaceChildren(h("p", { class: "hint", text: p(
      `次の内容確認のお願いは ${day(c.due_on).ja} ごろです。`,
      `We will ask you to check your information again around ${day(c.due_on).en}.`) }));
    return;
  }
  const last = dateOf(c.confirmed_at);
  const done = h("p", { role: "status", "aria-live": "polite", hidden: true });
  const button = h("button", { type: "button", id: "reconfirm-ok", class: "primary", text: p("変わりありません", "Nothing has changed") });
  button.addEventListener("click", async () => {
    button.disabled = true;
    try {
      const now = await api("POST", `${base}/confirmation`);
      el.dataset.stale = "no";
      el.replaceChildren(h("p", { class: "notice", role: "status", text: p(
        `確認しました。ありがとうございます。次の確認のお願いは ${day(now.due_on).ja} ごろです。`,
        `Thank you — confirmed. We will ask again around ${day(now.due_on).en}.`) }));
      applyLang(el);
    } catch (err) {
      button.disabled = false;
      done.hidden = false;
      done.className = "status error";
      done.textContent = err.message;
    }
  });
  el.replaceChildren(h("section", { class: "notice reconfirm", "aria-labelledby": "reconfirm-title" },
    h("h2", { id: "reconfirm-title", text: p("登録内容の確認をお願いします", "Please check your information") }),
    h("p", { text: p(
      `最後に確認したのは ${last.ja} です。お薬・持病・アレルギー・連絡先などに変わりがなければ、下のボタンを押してください。`,
      `It was last confirmed on ${last.en}. If your medications, conditions, allergies and contacts are still right, press the button below.`) }),
    h("div", { class: "actions" }, button,
      h("a", { class: "button secondary", href: "#dataset", text: p("内容を直す", "Correct it") })),
    done));
  applyLang(el);
}
