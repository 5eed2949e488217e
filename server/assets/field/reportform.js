// The report form of the paramedic app: its fields (activation toggles, vitals with numeric
// keypads, JCS and GCS as buttons), reading them as a patch (docs/api.md), and the draft: what is
// typed, kept on the device (IndexedDB, via store.js) so a reload loses nothing — medical data,
// so cleared once the report is sent or queued, and when the session ends.

import { $, h } from "./dom.js";
import { t } from "./i18n.js";
import * as store from "./store.js";

export const ACTIVATIONS = ["stroke", "stemi", "trauma", "cardiac_arrest", "sepsis", "obstetric", "paediatric", "general"];
export const VITALS = [
  ["systolic_bp", "numeric"],
  ["diastolic_bp", "numeric"],
  ["heart_rate", "numeric"],
  ["respiratory_rate", "numeric"],
  ["spo2", "numeric"],
  ["temperature", "decimal"],
  ["glucose", "numeric"],
];
export const JCS = ["0", "I-1", "I-2", "I-3", "II-10", "II-20", "II-30", "III-100", "III-200", "III-300"];


export function choice(type, name, value, labelKey, labelText) {
  const id = `${name}-${value}`.replace(/[^A-Za-z0-9_-]/g, "_");
  return h(
    "label",
    { class: "choice", for: id },
    h("input", { type, name, value, id }),
    h("span", labelKey ? { "data-i18n": labelKey, text: t(labelKey) } : { text: labelText }),
  );
}


export function buildReportForm() {
  const act = $("activation");
  for (const a of ACTIVATIONS) act.append(choice("radio", "activation", a, `act.${a}`));
  act.querySelector("input").required = true;
  const vit = $("vitals");
  for (const [name, mode] of VITALS) {
    vit.append(
      h(
        "label",
        {},
        h("span", { "data-i18n": `vital.${name}`, text: t(`vital.${name}`) }),
        h("input", { name, type: "text", inputmode: mode, pattern: mode === "decimal" ? "[0-9]+([.,][0-9])?" : "[0-9]*", maxlength: "5", autocomplete: "off" }),
      ),
    );
  }
  const jcs = $("jcs");
  for (const level of JCS) jcs.append(choice("radio", "jcs", level, null, level));
  const suf = $("jcs-suffixes");
  for (const s of ["R", "I", "A"]) suf.append(choice("checkbox", "jcs_suffix", s, `jcs.${s}`));
  const gcs = $("gcs");
  for (const [part, max] of [["e", 4], ["v", 5], ["m", 6]]) {
    const row = h("div", { class: "choices small gcs-row", role: "radiogroup", "aria-labelledby": `gcs-${part}-l` });
    row.append(h("span", { id: `gcs-${part}-l`, class: "gcs-label", "data-i18n": `gcs.${part}`, text: t(`gcs.${part}`) }));
    for (let n = 1; n <= max; n++) row.append(choice("radio", `gcs_${part}`, String(n), null, String(n)));
    gcs.append(row);
  }
  gcs.append(h("p", { id: "gcs-total", class: "muted", "aria-live": "polite" }));
  gcs.addEventListener("change", gcsTotal);
}


export function gcsTotal() {
  const f = $("report-form");
  const parts = ["e", "v", "m"].map((p) => f.querySelector(`input[name=gcs_${p}]:checked`)?.value);
  $("gcs-total").textContent = parts.every(Boolean) ? t("gcs.total", { n: parts.reduce((a, b) => a + Number(b), 0) }) : "";
}


export function num(v, decimal = false) {
  const s = String(v || "").trim().replace(",", ".");
  if (!s) return undefined;
  const n = decimal ? Number.parseFloat(s) : Number.parseInt(s, 10);
  return Number.isFinite(n) ? n : undefined;
}


export function readVitals(f) {
  const vitals = {};
  for (const [name, mode] of VITALS) {
    const v = num(f[name].value, mode === "decimal");
    if (v !== undefined) vitals[name] = v;
  }
  return vitals;
}


export function clearEntries(f) {
  for (const [name] of VITALS) f[name].value = "";
  for (const x of f.querySelectorAll("input[name=jcs], input[name=jcs_suffix], #gcs input")) x.checked = false;
  f.eta_minutes.value = "";
  gcsTotal();
}


// JCS and GCS as chosen on the form (a new assessment each, stamped by the server), or nothing.
export function readNeuro(f) {
  const out = {};
  const jcs = f.querySelector("input[name=jcs]:checked")?.value;
  if (jcs) {
    out.jcs = jcs;
    if (jcs !== "0") out.jcs_suffixes = [...f.querySelectorAll("input[name=jcs_suffix]:checked")].map((x) => x.value);
  }
  const g = ["e", "v", "m"].map((p) => f.querySelector(`input[name=gcs_${p}]:checked`)?.value);
  if (g.every(Boolean)) out.gcs = { e: Number(g[0]), v: Number(g[1]), m: Number(g[2]) };
  return out;
}


// ---- the draft ------------------------------------------------------------------------------------

const DRAFT = "report-draft";

/** Every field of the form as typed (text values, the ids of checked boxes). */
export function formState(f = $("report-form")) {
  const values = {};
  const checked = [];
  for (const el of f.elements) {
    if (!el.name) continue;
    if (el.type === "radio" || el.type === "checkbox") {
      if (el.checked) checked.push(el.id);
    } else if (el.tagName !== "BUTTON") values[el.name] = el.value;
  }
  return { values, checked };
}

export function restoreForm(state, f = $("report-form")) {
  for (const [name, v] of Object.entries(state?.values || {})) if (f.elements[name]) f.elements[name].value = v;
  for (const el of f.querySelectorAll("input[type=radio], input[type=checkbox]")) el.checked = (state?.checked || []).includes(el.id);
  gcsTotal();
}

/** Keeps the draft: the incident it belongs to (as the app knows it) and the form. */
export const saveDraft = (incident, loginId) => store.put(DRAFT, { incident, loginId, form: formState(), at: Date.now() }).catch(() => {});
export const loadDraft = () => store.get(DRAFT).catch(() => null);
export const clearDraft = () => store.del(DRAFT).catch(() => {});
