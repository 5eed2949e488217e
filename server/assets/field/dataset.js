// How the consented dataset's items read, shared by the paramedic app and the ED board.

import { t } from "./i18n.js";

export function sexWord(s) {
  return t(`sex.${["male", "female", "other"].includes(s) ? s : "unknown"}`);
}

/** A medication's marks, e.g. "(抗凝固薬・インスリン)": the two a responder must not miss. */
export function medMarks(b) {
  const marks = [b.anticoagulant && t("med.anticoagulant"), b.insulin && t("med.insulin")].filter(Boolean);
  return marks.length ? `(${marks.join("・")})` : null;
}

// Codes (severities, device kinds, age bands, …) are never shown raw: each has words in both
// languages in i18n.js. An unknown code (a newer server) reads as "unknown", not as the code.
const word = (prefix, code) => (code === null || code === undefined ? null : t(`${prefix}.${code}`).startsWith("⟦") ? t("common.unknown") : t(`${prefix}.${code}`));

/** An age band ("70s") in words ("70代"). */
export const ageBandWord = (band) => word("age", band || "unknown");
/** An allergy's severity in words. */
export const severityWord = (s) => word("sev", s);
/** A device kind in words. */
export const deviceWord = (k) => word("dev", k);
/** A blood type ("A+", "O", "不明"). */
export function bloodText(b) {
  const abo = b.abo === "unknown" ? t("blood.unknown") : b.abo;
  return `${abo}${b.rh === "unknown" ? "" : b.rh}`;
}

/** One dataset item as a line of text. */
export function itemText(it) {
  const b = it.body;
  switch (it.category) {
    case "medications":
      return [b.name, b.dose, b.frequency, medMarks(b)].filter(Boolean).join(" ");
    case "conditions":
      return [b.name, b.icd10 ? `[${b.icd10}]` : null, b.since].filter(Boolean).join(" ");
    case "allergies":
      return [b.substance, b.reaction ? `(${b.reaction})` : null, severityWord(b.severity)].filter(Boolean).join(" ");
    case "devices":
      return [deviceWord(b.kind), b.description].filter(Boolean).join(" ");
    case "blood_type":
      return bloodText(b);
    case "advance_directive":
      return [t(`ad.${b.status}`), b.document_location].filter(Boolean).join(" — ");
    case "care_team":
      return [b.primary_doctor, b.primary_hospital, b.hospital_phone, b.care_manager, b.care_manager_phone].filter(Boolean).join(" / ");
    case "emergency_contacts":
      return `${b.name}（${b.relation}） ${b.phone}`;
    default:
      return JSON.stringify(b);
  }
}

