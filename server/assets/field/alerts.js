// Escalations at the top of the paramedic's screen (issue 21): when a hospital asked has not
// acknowledged in time (or acknowledged but left the inquiry unanswered and was re-alerted), a
// banner under the header names it with a `tel:` link, a beep sounds (Web Audio, unlocked by the
// first tap on the page, as browsers require) and the phone vibrates. Each escalation step rings
// once; the crew dismisses the banner.

import { $, h, telLink } from "./dom.js";
import { t } from "./i18n.js";

let audio = null;
const seen = new Set(); // "incident:hospital:level" already rung
const dismissed = new Set();

/** Web Audio may start only after a gesture: the first tap anywhere makes the context. */
export function unlockAudio() {
  const unlock = () => {
    try {
      audio ??= new AudioContext();
      audio.resume?.();
    } catch {
      /* no audio here */
    }
  };
  document.addEventListener("pointerdown", unlock, { once: true, capture: true });
  document.addEventListener("keydown", unlock, { once: true, capture: true });
}

function beep() {
  if (!audio) return;
  try {
    const now = audio.currentTime;
    for (let i = 0; i < 3; i++) {
      const osc = audio.createOscillator();
      const gain = audio.createGain();
      osc.frequency.value = 880;
      gain.gain.setValueAtTime(0.0001, now + i * 0.3);
      gain.gain.exponentialRampToValueAtTime(0.4, now + i * 0.3 + 0.02);
      gain.gain.exponentialRampToValueAtTime(0.0001, now + i * 0.3 + 0.2);
      osc.connect(gain).connect(audio.destination);
      osc.start(now + i * 0.3);
      osc.stop(now + i * 0.3 + 0.22);
    }
  } catch {
    /* sound is a help, not a condition */
  }
}

/** The escalated targets of `incident` as {key, name, phone, level, unanswered}. */
function escalations(incident, hospitalName) {
  const out = [];
  for (const tg of incident?.targets || []) {
    if (tg.status !== "pending") continue;
    const esc = tg.escalated_at && !tg.acknowledged_at;
    const unanswered = tg.unanswered_realerts > 0 && tg.acknowledged_at;
    if (!esc && !unanswered) continue;
    const level = tg.escalation || 1;
    out.push({ key: `${incident.id}:${tg.hospital.id}:${level}:${tg.unanswered_realerts || 0}`, name: hospitalName(tg.hospital), phone: tg.hospital.phone, level, unanswered });
  }
  return out;
}

/** Shows the incident's current escalations at the top; a new one rings and vibrates. */
export function renderEscalations(incident, hospitalName) {
  const box = $("alerts");
  const list = escalations(incident, hospitalName).filter((e) => !dismissed.has(e.key));
  const fresh = list.filter((e) => !seen.has(e.key));
  for (const e of fresh) seen.add(e.key);
  if (fresh.length) {
    beep();
    globalThis.navigator?.vibrate?.([300, 150, 300, 150, 300]);
    document.body.dataset.escalated = String(Number(document.body.dataset.escalated || 0) + 1);
  }
  box.replaceChildren(
    ...list.map((e) =>
      h(
        "div",
        { class: "alert", role: "alert", "data-escalation": String(e.level) },
        h("p", { text: t(e.unanswered ? "alert.unanswered" : "alert.escalated", { name: e.name }) + (e.level > 1 ? ` ${t("target.level", { level: e.level })}` : "") }),
        h(
          "div",
          { class: "alert-actions" },
          telLink(e.phone, t("alert.call", { phone: e.phone }), { class: "tel big-link" }),
          h("button", { type: "button", class: "quiet", "data-dismiss": e.key, text: t("alert.dismiss"), onclick: () => {
            dismissed.add(e.key);
            renderEscalations(incident, hospitalName);
          } }),
        ),
      ),
    ),
  );
  box.hidden = !list.length;
}
