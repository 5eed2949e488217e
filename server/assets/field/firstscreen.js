// The first screen after a scan (issue 21), at 360×640 without scrolling: who the patient is (name
// with kana, age, sex, date of birth, the photo when consented), then what changes treatment —
// allergies with their severity, anticoagulants and insulin, implanted devices, DNAR/ACP, key
// conditions — and only then the full dataset below. Phone numbers are `tel:` links.

import { telLink, h } from "./dom.js";
import { deviceWord, itemText, sexWord, severityWord } from "./dataset.js";
import { t } from "./i18n.js";

/** Who: `#patient-head`. `photo` is {url} once fetched, {error}, or pending; null: no photo. */
export function whoBlock(d, photo, photoFallback) {
  const p = d.patient;
  const kana = [p.family_name_kana, p.given_name_kana].filter(Boolean).join(" ");
  const text = h(
    "div",
    { class: "pt-text" },
    h("p", { class: "name patient", translate: "no", text: `${p.family_name} ${p.given_name}` }),
    kana ? h("p", { class: "kana", translate: "no", text: kana }) : null,
    h("p", { class: "facts", text: t("first.facts", { age: p.age, sex: sexWord(p.sex), dob: p.date_of_birth }) }),
  );
  let pic = null;
  if (photo?.url) {
    pic = h("figure", { id: "photo-thumb", class: "pt-photo" }, h("img", { id: "identity-photo", src: photo.url, alt: t("photo.alt"), translate: "no" }));
  }
  return h("div", { class: "pt", id: "patient-head" }, text, pic ?? photoFallback);
}

const byCat = (d, cat) => d.items.filter((i) => i.category === cat);

/** What changes treatment: `#critical`, one line per kind, each `[data-critical=…]`. */
export function criticalBlock(d) {
  const shared = (cat) => d.categories.includes(cat);
  const line = (kind, label, values, calm = false) =>
    h("li", { "data-critical": kind, class: calm ? "calm" : null }, h("b", { text: t("first.label", { label }) }), h("span", { translate: "no", text: values }));
  const rows = [];
  const none = t("first.nothing");
  const notShared = t("first.notShared");

  const allergies = byCat(d, "allergies").map((i) => [i.body.substance, severityWord(i.body.severity)].filter(Boolean).join(" — "));
  rows.push(line("allergies", t("first.allergy"), shared("allergies") ? allergies.join("、") || none : notShared, !allergies.length));

  const meds = byCat(d, "medications").map((i) => i.body);
  const anticoag = meds.filter((m) => m.anticoagulant).map((m) => m.name);
  const insulin = meds.filter((m) => m.insulin).map((m) => m.name);
  const medsShared = shared("medications");
  rows.push(line("anticoagulant", t("first.anticoagulant"), medsShared ? anticoag.join("、") || none : notShared, !anticoag.length));
  rows.push(line("insulin", t("first.insulin"), medsShared ? insulin.join("、") || none : notShared, !insulin.length));

  const devices = byCat(d, "devices").map((i) => [deviceWord(i.body.kind), i.body.description].filter(Boolean).join(" "));
  rows.push(line("devices", t("cat.devices"), shared("devices") ? devices.join("、") || none : notShared, !devices.length));

  const ad = byCat(d, "advance_directive").map((i) => t(`ad.${i.body.status}`));
  const dnar = byCat(d, "advance_directive").some((i) => i.body.status === "dnar");
  rows.push(line("advance_directive", t("cat.advance_directive"), shared("advance_directive") ? ad.join("、") || none : notShared, !dnar));

  if (shared("conditions")) {
    const conds = byCat(d, "conditions").map((i) => i.body.name);
    rows.push(line("conditions", t("first.conditions"), conds.slice(0, 4).join("、") || none, true));
  }
  return h("div", { class: "critical", id: "critical" }, h("h2", { text: t("first.critical") }), h("ul", {}, rows));
}

// A phone number in free text: 0297-23-2111, 090-1234-5678, 03 1234 5678, +81…
const PHONE = /(\+?\d[\d-]{8,}\d)/g;

/** A line of text with every phone number in it as a `tel:` link. */
export function withPhones(text) {
  const out = [];
  let last = 0;
  for (const m of text.matchAll(PHONE)) {
    if ((m[1].match(/\d/g) || []).length < 10) continue;
    out.push(text.slice(last, m.index));
    out.push(telLink(m[1]));
    last = m.index + m[1].length;
  }
  out.push(text.slice(last));
  return out.filter((x) => x !== "");
}

/** One dataset item for the full list: its text, phone numbers as links. */
export function itemNode(it) {
  return h("li", {}, ...withPhones(itemText(it)));
}
