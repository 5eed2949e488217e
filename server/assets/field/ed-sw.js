// The ED dashboard's service worker (scope /pages/ed): shows Web Push alerts and brings the
// dashboard forward when one is clicked. A push carries only {incident_id, kind, activation,
// age_band, eta_at, version, escalation}; the dashboard fetches the details with the staff member's
// session. Pushes are delivered at least once and a report may be updated many times: a push that
// is not newer (higher version, or the same version with a higher escalation level) than the one
// already shown for its incident replaces it silently instead of ringing again.

const TITLES = {
  inquiry: "受入照会 / Inquiry",
  escalated: "未確認の照会 / Unacknowledged inquiry",
  report_updated: "報告の更新 / Report updated",
  destination_assigned: "搬送先に決定 / Assigned to you",
  accepted_elsewhere: "他院に決定 / Went elsewhere",
  withdrawn: "照会の取り下げ / Inquiry withdrawn",
};
const ACTIVATION = {
  stroke: "脳卒中 Stroke",
  stemi: "STEMI",
  trauma: "外傷 Trauma",
  cardiac_arrest: "心肺停止 Cardiac arrest",
  sepsis: "敗血症 Sepsis",
  obstetric: "産科 Obstetric",
  paediatric: "小児 Paediatric",
  general: "その他 Other",
};

self.addEventListener("install", () => self.skipWaiting());
self.addEventListener("activate", (event) => event.waitUntil(self.clients.claim()));

self.addEventListener("push", (event) => {
  let p = {};
  try {
    p = event.data ? event.data.json() : {};
  } catch {
    p = {};
  }
  const title = TITLES[p.kind] || "Kyukit";
  const body = [ACTIVATION[p.activation], p.age_band].filter(Boolean).join(" · ");
  const tag = p.incident_id ? `incident-${p.incident_id}` : undefined;
  const rank = { version: Number(p.version) || 0, escalation: Number(p.escalation) || 0 };
  event.waitUntil(
    (async () => {
      const shown = tag ? (await self.registration.getNotifications({ tag }))[0] : undefined;
      const was = shown?.data || null;
      const newer =
        !was ||
        rank.version > (was.version || 0) ||
        (rank.version === (was.version || 0) && rank.escalation > (was.escalation || 0)) ||
        (rank.version === (was.version || 0) && rank.escalation === (was.escalation || 0) && p.kind !== was.kind);
      if (!newer) {
        // A duplicate or an older alert: keep what is shown, without ringing.
        await self.registration.showNotification(shown.title, {
          body: shown.body,
          tag,
          renotify: false,
          requireInteraction: shown.requireInteraction,
          data: was,
        });
        return;
      }
      await self.registration.showNotification(title, {
        body,
        tag,
        renotify: true,
        requireInteraction: p.kind === "inquiry" || p.kind === "escalated",
        data: { incident_id: p.incident_id || null, kind: p.kind, ...rank },
      });
      for (const c of await self.clients.matchAll({ type: "window" })) c.postMessage({ type: "push", payload: p });
    })(),
  );
});

self.addEventListener("notificationclick", (event) => {
  event.notification.close();
  const id = event.notification.data?.incident_id;
  const target = id ? `/pages/ed#incident=${id}` : "/pages/ed";
  event.waitUntil(
    (async () => {
      for (const c of await self.clients.matchAll({ type: "window", includeUncontrolled: true })) {
        if (new URL(c.url).pathname === "/pages/ed") {
          c.postMessage({ type: "open", incident_id: id });
          return c.focus();
        }
      }
      return self.clients.openWindow(target);
    })(),
  );
});
