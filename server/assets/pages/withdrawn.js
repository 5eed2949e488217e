// The card page of a withdrawn record (支援中止; issue 26): what happened and when, what it means
// for paramedics, how to restart, and every card that was revoked — shown, not folded away.

import { p, h, when, dateOf } from "./common.js";

/**
 * Why a card was revoked, as nodes for a sentence, from the server's `revoke_reason`: one of the
 * reasons it sets itself (`reissued`, `consent_changed`, `consent withdrawn[: the person's words]`)
 * in words (ja/en), or the words the person typed when they revoked the card by hand — shown as
 * theirs, in quotes and untranslated (`translate="no"`).
 */
export function revokeReason(reason) {
  const r = (reason || "").trim();
  const words = (w) => h("span", { class: "own-words", translate: "no" }, `「${w}」`);
  if (r === "reissued") return [h("span", { text: p("再発行", "reissued") })];
  if (r === "consent_changed") return [h("span", { text: p("同意の変更", "consent changed") })];
  const withdrawal = /^(?:consent[ _])?withdrawn(?::\s*(.*))?$/s.exec(r);
  if (withdrawal) {
    const given = (withdrawal[1] || "").trim();
    return given
      ? [h("span", { text: p("支援中止：", "withdrawal (支援中止): ") }), words(given)]
      : [h("span", { text: p("支援中止", "withdrawal (支援中止)") })];
  }
  if (!r) return [h("span", { text: p("理由の記録なし", "no reason recorded") })];
  return [words(r)];
}

/** A revoked card's line: which card, when, and why. `issued` adds its issue date. */
export function revokedCardLine(c, { issued = false } = {}) {
  const r = when(c.revoked_at);
  const d = issued ? dateOf(c.issued_at) : null;
  return h("li", {},
    h("span", { text: d
      ? p(`カード ${c.id.slice(0, 8)}（${d.ja} 発行）: ${r.ja} に無効化（`, `Card ${c.id.slice(0, 8)} (issued ${d.en}): revoked ${r.en} (`)
      : p(`カード ${c.id.slice(0, 8)}: ${r.ja} に無効化（`, `Card ${c.id.slice(0, 8)}: revoked ${r.en} (`) }),
    ...revokeReason(c.revoke_reason),
    h("span", { text: p("）", ")") }));
}

/** The block for `profile` (status `withdrawn`) and its `cards`. */
export function withdrawnCards(profile, cards) {
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
    ? h("ul", { id: "revoked-cards" }, ...revoked.map((c) => revokedCardLine(c, { issued: true })))
    : h("p", { text: p("無効にしたカードはありません（カードを作る前に支援中止しました）。", "No card was revoked (you stopped before making one).") });
  return [block, h("h2", { text: p(`無効になったカード（${revoked.length}枚）`, `Revoked cards (${revoked.length})`) }), list];
}
