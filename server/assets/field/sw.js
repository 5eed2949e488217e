// The paramedic PWA's service worker (scope "/", allowed by the server's Service-Worker-Allowed
// header). It keeps the app shell, the issuer keys (JWKS) and the revocation lists in a cache so
// the app opens and verifies cards with no network, and it turns a card URL opened by the phone's
// camera (/c/<digits>) into the app on an enrolled device. Residents' data is never cached: API
// answers other than the JWKS and revocation lists pass straight through.

const VERSION = "__VERSION__"; // replaced by the server with a hash of every asset
const SHELL = `kyukit-field-shell-${VERSION}`;
const KEYS = "kyukit-field-keys";
const SHELL_FILES = [
  "/pages/field",
  "/pages/field/field.js",
  "/pages/field/card.js",
  "/pages/field/trust.js",
  "/pages/field/household.js",
  "/pages/field/dataset.js",
  "/pages/field/httpsig.js",
  "/pages/field/i18n.js",
  "/pages/field/store.js",
  "/pages/field/net.js",
  "/pages/field/api.js",
  "/pages/field/dom.js",
  "/pages/field/errors.js",
  "/pages/field/outbox.js",
  "/pages/field/alerts.js",
  "/pages/field/reportform.js",
  "/pages/field/firstscreen.js",
  "/pages/field/scanner.js",
  "/pages/field/jsqr.js",
  "/pages/field/session.js",
  "/pages/field/webauthn.js",
  "/pages/field/nocard.js",
  "/pages/field/i18n-auth.js",
  "/pages/field/field.css",
  "/pages/field/icon.svg",
  "/pages/field/manifest.webmanifest",
];

self.addEventListener("install", (event) => {
  event.waitUntil(
    (async () => {
      const cache = await caches.open(SHELL);
      await cache.addAll(SHELL_FILES.map((u) => new Request(u, { cache: "no-store" })));
      await self.skipWaiting();
    })(),
  );
});

self.addEventListener("activate", (event) => {
  event.waitUntil(
    (async () => {
      for (const name of await caches.keys()) {
        if (name.startsWith("kyukit-field-shell-") && name !== SHELL) await caches.delete(name);
      }
      await self.clients.claim();
    })(),
  );
});

// Is this device enrolled? (The app keeps its device record in IndexedDB "kyukit-field".)
function enrolled() {
  return new Promise((resolve) => {
    const req = indexedDB.open("kyukit-field", 1);
    req.onupgradeneeded = () => req.result.createObjectStore("kv");
    req.onerror = () => resolve(false);
    req.onsuccess = () => {
      const db = req.result;
      try {
        const get = db.transaction("kv").objectStore("kv").get("device");
        get.onsuccess = () => {
          resolve(Boolean(get.result));
          db.close();
        };
        get.onerror = () => {
          resolve(false);
          db.close();
        };
      } catch {
        resolve(false);
        db.close();
      }
    };
  });
}

async function shell(request) {
  const cache = await caches.open(SHELL);
  const hit = await cache.match(request, { ignoreSearch: true });
  if (hit) return hit;
  return fetch(request);
}

// The keys and lists: the network when it answers (refreshing the cache), else the cached copy,
// marked (net.js OFFLINE_COPY) so the app does not take it for a fresh answer from the server.
async function keysFirstNetwork(request) {
  const cache = await caches.open(KEYS);
  try {
    const r = await fetch(request);
    if (r.ok) await cache.put(request, r.clone());
    return r;
  } catch (e) {
    const hit = await cache.match(request);
    if (!hit) throw e;
    const headers = new Headers(hit.headers);
    headers.set("X-Kyukit-Offline-Copy", "1");
    return new Response(hit.body, { status: hit.status, statusText: hit.statusText, headers });
  }
}

self.addEventListener("fetch", (event) => {
  const req = event.request;
  if (req.method !== "GET") return;
  const url = new URL(req.url);
  if (url.origin !== self.location.origin) return;
  const card = /^\/[cC]\/([0-9]+)$/.exec(url.pathname);
  if (card && req.mode === "navigate") {
    event.respondWith(
      (async () => {
        if (await enrolled()) return Response.redirect(`/pages/field#card=${card[1]}`, 303);
        return fetch(req); // not a paramedic's device: the bystander page
      })(),
    );
    return;
  }
  if (url.pathname === "/pages/field" || SHELL_FILES.includes(url.pathname)) {
    event.respondWith(shell(req));
    return;
  }
  if (url.pathname === "/.well-known/jwks.json" || url.pathname.startsWith("/api/v1/revocations/")) {
    event.respondWith(keysFirstNetwork(req));
  }
});
