// A patient without a card (issue 21): a report with the crew's estimate of age and sex and the
// times of onset and last known well (docs/api.md: an incident needs no card; a stroke activation
// needs the time last known well), and the break-glass search by name and date of birth with a
// reason (a 1-hour grant of the consented emergency categories, reviewed by the city).

import { t } from "./i18n.js";

const DAY = 86_400_000;
const JST = 9 * 3600_000;

/** `HH:MM` typed in Japan time → Unix seconds: today, or yesterday if that would be ahead of now. */
export function jstTime(hhmm, nowMs = Date.now()) {
  const m = /^(\d{1,2}):(\d{2})$/.exec(hhmm || "");
  if (!m) return undefined;
  const day = Math.floor((nowMs + JST) / DAY) * DAY; // midnight JST, as a UTC instant + 9 h
  let at = day + (Number(m[1]) * 60 + Number(m[2])) * 60_000 - JST;
  if (at > nowMs + 300_000) at -= DAY;
  return Math.floor(at / 1000);
}

/** An age band's middle, as the server's `estimated_age` (it keeps the band). */
const AGES = { "0-9": 5, "10s": 15, "20s": 25, "30s": 35, "40s": 45, "50s": 55, "60s": 65, "70s": 75, "80s": 85, "90s": 95, "100+": 100 };

export function initNoCard(ctx) {
  const { S, $, h } = ctx;

  // Age bands as a select; the rest of the form is in field.html.
  const sel = $("nocard-form").elements.age_band;
  sel.append(h("option", { value: "", "data-i18n": "nocard.ageUnknown", text: t("nocard.ageUnknown") }));
  const label = (band) => (band === "0-9" ? "0–9" : band === "100+" ? "100+" : `${parseInt(band, 10)}–${parseInt(band, 10) + 9}`);
  for (const band of Object.keys(AGES)) sel.append(h("option", { value: band, text: label(band) }));

  $("nocard-start").addEventListener("click", () => {
    $("nocard").hidden = false;
    $("nocard").scrollIntoView();
    sel.focus();
  });

  $("nocard-form").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const f = ev.target;
    const extra = {};
    if (f.age_band.value) extra.estimated_age = AGES[f.age_band.value];
    const sex = f.querySelector("input[name=nc_sex]:checked")?.value;
    if (sex) extra.sex = sex;
    const onset = jstTime(f.onset.value);
    if (onset) extra.onset_at = onset;
    const lkw = jstTime(f.lkw.value);
    if (lkw) extra.last_known_well_at = lkw;
    else if (f.lkw_unknown.checked) extra.last_known_well_unknown = true;
    // A new patient: nothing of an earlier card stays on screen.
    S.verdict = null;
    S.disclosure = null;
    S.datasetGone = null;
    ctx.dropPhoto();
    const band = f.age_band.value;
    const ageText = band ? sel.selectedOptions[0].textContent : null;
    S.patientExtra = {
      fields: extra,
      line: () => t("nocard.patientLine", { age: ageText || t("common.unknown"), sex: ctx.sexWord(sex || "unknown") }),
    };
    $("nocard").hidden = true;
    ctx.render();
    await ctx.startReport();
  });

  $("bg-form").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const f = ev.target;
    const body = {
      family_name: f.family_name.value.trim(),
      given_name: f.given_name.value.trim(),
      date_of_birth: f.date_of_birth.value,
      address: f.address.value.trim() || null,
      reason: f.reason.value.trim(),
      incident_ref: ctx.incidentRef(),
    };
    try {
      const d = await ctx.signed("POST", "/api/v1/break-glass", body);
      S.incident = null;
      S.patientExtra = null;
      $("report").hidden = true;
      $("hospitals").hidden = true;
      S.datasetGone = null;
      S.disclosureError = null;
      ctx.dropPhoto();
      S.verdict = { kind: "break_glass" };
      S.disclosure = d;
      $("bg").open = false;
      ctx.message("");
      ctx.renderVerdict(true);
    } catch (e) {
      ctx.onAuthError(e);
      ctx.message(() => t("bg.failed", { why: ctx.why(e) }));
    }
  });
}
