// The resident portal's photo for identity check (issue 19): upload, replace or delete the face
// photo a paramedic who scanned the card may see. The server re-encodes it (no location or other
// hidden data kept) and keeps it only while "photo" is in the consent in force.

import { p, h, lang, api, apiBlob, ApiFailure, ask, errorText } from "./common.js";

/** The consent-form entry for the photo (it is a consent category, not a dataset item). */
export const PHOTO_CONSENT = {
  key: "photo",
  title: p("本人確認用の写真", "Photo for identity check"),
  consent: p(
    "カードを読み取った救急隊員だけが、その場で顔写真を見て、目の前の人があなたかを確かめられます。カードや印刷物には載りません。選ばないと、写真は削除されます。",
    "Only the paramedic who scanned your card sees your face photo, on the spot, to check that the person in front of them is you. It is never on the card or the printouts. If you do not choose this, the photo is deleted.",
  ),
};

const ERRORS = {
  payload_too_large: p("写真のファイルが大きすぎます（5MBまで）。小さい写真を選んでください。", "The photo file is too large (at most 5 MB). Choose a smaller photo."),
  unsupported_media_type: p("JPEGかPNGの写真を選んでください。", "Choose a JPEG or PNG photo."),
  not_an_image: p("写真として読み取れませんでした。JPEGかPNGの写真を選んでください。", "This could not be read as a photo. Choose a JPEG or PNG photo."),
  image_too_large: p("写真の画素数が大きすぎます（縦横4096画素まで）。", "The photo has too many pixels (at most 4096 × 4096)."),
  photo_not_consented: p("先に「救急隊に見せてよい情報（同意）」で「本人確認用の写真」を選んでください。", "First choose “Photo for identity check” under “What paramedics may see (consent)”."),
};

let shownUrl = null;

/**
 * Renders the photo view into `root`. `ctx`: { base: the resident's API path, consented: whether
 * "photo" is in the consent in force, done(pair): called after a change with a message }.
 */
export async function renderPhoto(root, ctx) {
  if (shownUrl) URL.revokeObjectURL(shownUrl);
  shownUrl = null;
  const msg = h("p", { class: "form-error error", role: "alert", hidden: true });
  root.replaceChildren(msg);
  if (!ctx.consented) {
    root.append(h("p", { class: "notice", id: "photo-needs-consent" },
      h("span", { text: p("写真を登録するには、先に", "To add a photo, first choose “Photo for identity check” in ") }),
      h("a", { href: "#consent", text: p("見せてよい情報（同意）", "what paramedics may see (consent)") }),
      h("span", { text: p("で「本人確認用の写真」を選んでください。", ".") })),
    h("div", { class: "actions" },
      h("a", { class: "button primary big", id: "photo-to-consent", href: "#consent", text: p("同意の画面を開く", "Open the consent page") })));
    return;
  }
  let blob = null;
  try {
    blob = await apiBlob(`${ctx.base}/photo`);
  } catch (err) {
    if (!(err instanceof ApiFailure) || err.code !== "no_photo") throw err;
  }
  const fail = (err) => {
    if (!(err instanceof ApiFailure)) throw err;
    msg.replaceChildren(h("span", { text: errorText(err, ERRORS) }));
    msg.hidden = false;
    msg.focus?.();
  };
  if (blob) {
    shownUrl = URL.createObjectURL(blob);
    const alt = p("登録されている顔写真", "The registered face photo");
    root.appendChild(h("figure", { class: "photo-current" },
      h("img", { id: "photo-current", src: shownUrl, alt: alt[lang], aria: alt }),
      h("figcaption", { text: p("いま登録されている写真", "Your photo now") })));
  } else {
    root.appendChild(h("p", { class: "notice", id: "photo-none", text: p("まだ写真は登録されていません。", "No photo yet.") }));
  }
  const input = h("input", { type: "file", id: "photo-file", accept: "image/jpeg,image/png", class: "visually-hidden", tabindex: "-1", "aria-hidden": "true" });
  const choose = h("button", { type: "button", class: "primary big", id: "photo-choose",
    text: blob ? p("写真を取りかえる", "Replace the photo") : p("写真を選んで登録する", "Choose a photo and add it") });
  choose.addEventListener("click", () => input.click());
  input.addEventListener("change", async () => {
    const file = input.files?.[0];
    if (!file) return;
    msg.hidden = true;
    document.getElementById("status").hidden = true; // an earlier "saved" no longer applies
    choose.disabled = true;
    try {
      const type = file.type === "image/png" ? "image/png" : file.type === "image/jpeg" ? "image/jpeg" : file.type || "application/octet-stream";
      await api("PUT", `${ctx.base}/photo`, new Blob([file], { type }));
      ctx.done(p("写真を登録しました。", "Your photo is saved."));
    } catch (err) {
      fail(err);
    } finally {
      choose.disabled = false;
      input.value = "";
    }
  });
  const actions = h("div", { class: "actions" }, choose);
  if (blob) {
    const del = h("button", { type: "button", class: "danger big", id: "photo-delete", text: p("写真を削除する", "Delete the photo") });
    del.addEventListener("click", async () => {
      const ok = await ask({
        title: p("写真を削除しますか？", "Delete the photo?"),
        body: p("救急隊は写真で本人確認ができなくなります。", "Paramedics can then no longer check who you are by the photo."),
        confirm: p("削除する", "Delete"),
        danger: true,
      });
      if (!ok) return;
      try {
        await api("DELETE", `${ctx.base}/photo`);
        ctx.done(p("写真を削除しました。", "Your photo is deleted."));
      } catch (err) {
        fail(err);
      }
    });
    actions.appendChild(del);
  }
  root.append(input, actions,
    h("p", { class: "hint", text: p("顔が正面からはっきり写った写真を選んでください（JPEGかPNG、5MBまで）。写真の中の撮影場所などの情報は消して保存します。", "Choose a clear photo of your face from the front (JPEG or PNG, up to 5 MB). Location and other hidden data in the file are removed when it is saved.") }));
}
