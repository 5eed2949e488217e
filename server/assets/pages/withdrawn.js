// The card page of a withdrawn record (支援中止; issue 26): what happened and when, what it means
// for paramedics, how to restart, and every card that was revoked — shown, not folded away.

import { p, h, when, dateOf } from "./common.js";

/** The block for `profile` (status `withdrawn`) and its `cards`; `reasonText(code)` → pair. */
export function withdrawnCards(profile, cards, reasonText) {
  const at = profile.withdrawn_at ? dateOf(profile.withdrawn_at) : p("—", "—");
  const purge = profile.purge_after ? dateOf(profile.purge_after) : null;
  const parts = [
    h("h2", { id: "withdrawn-title", text: p("支援中止しました", "You stopped taking part (支援中止)") }),
    h("p", { text: p(
      `${at.ja} に支援中止しました。そのときカードはすべて無効になりました。救急隊がカードを読み取っても、あなたの情報は表示されません。`,
      `You stopped on ${at.en}. All your cards were revoked then: if paramedics scan one, they see none of your information.`) }),
  ];
  if (purge) parts.push(h("p", { text: p(`${purge.ja} に登録した情報を削除します。`, `Your information will be deleted on ${purge.en}.`) }));
  parts.push(h("p", {},
    h("span", { text: p("もう一度使うときは、", "To take part again, ") }),
    h("a", { href: "#consent", text: p("見せてよい情報（同意）", "give consent again") }),
    h("span", { text: p("を登録してから、新しいカードを作ってください。", ", then make a new card.") })));
  const block = h("section", { class: "warn-box withdrawn", id: "withdrawn", "aria-labelledby": "withdrawn-title" }, ...parts);
  const revoked = cards.filter((c) => c.status !== "active");
  const list = revoked.length
    ? h("ul", { id: "revoked-cards" }, ...revoked.map((c) => {
      const issued = dateOf(c.issued_at);
      const r = when(c.revoked_at);
      // Revoked by the withdrawal: "consent withdrawn: <the reason given>".
      const why = /^(consent[ _])?withdrawn/.test(c.revoke_reason || "") ? p("支援中止", "withdrawal (支援中止)") : reasonText(c.revoke_reason);
      return h("li", { text: p(
        `カード ${c.id.slice(0, 8)}（${issued.ja} 発行）: ${r.ja} に無効化（${why.ja}）`,
        `Card ${c.id.slice(0, 8)} (issued ${issued.en}): revoked ${r.en} (${why.en})`) });
    }))
    : h("p", { text: p("無効にしたカードはありません（カードを作る前に支援中止しました）。", "No card was revoked (you stopped before making one).") });
  return [block, h("h2", { text: p(`無効になったカード（${revoked.length}枚）`, `Revoked cards (${revoked.length})`) }), list];
}
