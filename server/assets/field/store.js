// A tiny key-value store over IndexedDB, shared by the PWA and its service worker.
//
// What is kept on the device: the enrolled device (its id, facility, label and its P-256 key
// pair — CryptoKey objects are stored as they are, so the non-extractable private key never
// exists as bytes the page could read), the issuer keys (JWKS) and the revocation lists for
// offline verification. Never kept: passwords, TOTP codes, residents' data. The paramedic's
// session token lives in sessionStorage (this tab only).

const DB = "kyukit-field";
const STORE = "kv";

function open() {
  return new Promise((resolve, reject) => {
    const req = indexedDB.open(DB, 1);
    req.onupgradeneeded = () => req.result.createObjectStore(STORE);
    req.onsuccess = () => resolve(req.result);
    req.onerror = () => reject(req.error);
  });
}

async function tx(mode, fn) {
  const db = await open();
  try {
    return await new Promise((resolve, reject) => {
      const t = db.transaction(STORE, mode);
      const req = fn(t.objectStore(STORE));
      t.oncomplete = () => resolve(req?.result);
      t.onerror = () => reject(t.error);
      t.onabort = () => reject(t.error);
    });
  } finally {
    db.close();
  }
}

export const get = (key) => tx("readonly", (s) => s.get(key));
export const put = (key, value) => tx("readwrite", (s) => s.put(value, key));
export const del = (key) => tx("readwrite", (s) => s.delete(key));
