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

/** One dataset item as a line of text. */
export function itemText(it) {
  const b = it.body;
  switch (it.category) {
    case "medications":
      return [b.name, b.dose, b.frequency, medMarks(b)].filter(Boolean).join(" ");
    case "conditions":
      return [b.name, b.icd10 ? `[${b.icd10}]` : null, b.since].filter(Boolean).join(" ");
    case "allergies":
      return [b.substance, b.reaction ? `(${b.reaction})` : null, b.severity].filter(Boolean).join(" ");
    case "devices":
      return [b.kind, b.description].filter(Boolean).join(" ");
    case "blood_type":
      return `${b.abo}${b.rh === "unknown" ? "" : b.rh}`;
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

