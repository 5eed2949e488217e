// Which values the ED board highlights (issue 25). Pure functions; thresholds and their sources are
// documented in docs/ed-board.md — change both together.
//
// Adults (age band 20s and older, or unknown): the single-parameter bands of NEWS2 (Royal College
// of Physicians, 2017) — its score 3 ("red") is `crit`, its score 2 is `warn`; SpO2 on scale 1
// (scale 2, for type 2 respiratory failure, needs a clinician's decision the board cannot know).
// Children (0-9, 10s): NEWS2 is for adults and normal ranges change with age, so only SpO2 and
// glucose are judged. Glucose (not in NEWS2): hypoglycaemia levels 1 (< 70 mg/dL, warn) and
// 2 (< 54 mg/dL, crit) of the ADA Standards of Care. Consciousness: anything but alert is NEWS2's
// score 3 — JCS II/III and GCS ≤ 8 are `crit`, JCS I and GCS 9–14 `warn`.

/** Each vital's bands: [low crit ≤, low warn ≤, high warn ≥, high crit ≥]; null = no band. */
export const BANDS = {
  respiratory_rate: { adult: true, crit: [8, 25], warn: [null, 21] },
  spo2: { adult: false, crit: [91, null], warn: [93, null] },
  systolic_bp: { adult: true, crit: [90, 220], warn: [100, null] },
  heart_rate: { adult: true, crit: [40, 131], warn: [null, 111] },
  temperature: { adult: true, crit: [35.0, null], warn: [null, 39.1] },
  glucose: { adult: false, crit: [53, null], warn: [69, null] },
};

const CHILD = new Set(["0-9", "10s"]);

/** "crit", "warn" or null for a vital's value (ageBand as the server gives it). */
export function vitalLevel(key, value, ageBand) {
  const b = BANDS[key];
  if (!b || value === null || value === undefined) return null;
  if (b.adult && CHILD.has(ageBand)) return null;
  const [cl, ch] = b.crit;
  const [wl, wh] = b.warn;
  if ((cl !== null && value <= cl) || (ch !== null && value >= ch)) return "crit";
  if ((wl !== null && value <= wl) || (wh !== null && value >= wh)) return "warn";
  return null;
}

/** "crit", "warn" or null for JCS (its level, e.g. "II-10") and GCS (its total). */
export function jcsLevel(jcs) {
  if (!jcs || jcs.level === "0") return null;
  return jcs.level.startsWith("I-") ? "warn" : "crit";
}

export function gcsLevel(gcs) {
  if (!gcs) return null;
  return gcs.total <= 8 ? "crit" : gcs.total <= 14 ? "warn" : null;
}
