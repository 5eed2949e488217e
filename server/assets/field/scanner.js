// Camera QR scanning: the rear camera into a <video>, decoded with the browser's BarcodeDetector
// where it exists and knows QR codes (Android, ChromeOS, macOS), otherwise with jsQR (npm `jsqr`,
// vendored as an ES module by tests/browser/field/build-vendor.mjs). Resolves to the first QR
// text seen.

let jsqr = null;

async function decoder() {
  if ("BarcodeDetector" in globalThis) {
    try {
      const formats = await globalThis.BarcodeDetector.getSupportedFormats();
      if (formats.includes("qr_code")) {
        const det = new globalThis.BarcodeDetector({ formats: ["qr_code"] });
        return { name: "BarcodeDetector", detect: async (video) => (await det.detect(video))[0]?.rawValue ?? null };
      }
    } catch {
      /* fall back to jsQR */
    }
  }
  if (!jsqr) jsqr = (await import("./jsqr.js")).default;
  const canvas = document.createElement("canvas");
  const ctx = canvas.getContext("2d", { willReadFrequently: true });
  return {
    name: "jsQR",
    detect: async (video) => {
      const w = video.videoWidth;
      const h = video.videoHeight;
      if (!w || !h) return null;
      canvas.width = w;
      canvas.height = h;
      ctx.drawImage(video, 0, 0, w, h);
      const img = ctx.getImageData(0, 0, w, h);
      return jsqr(img.data, w, h, { inversionAttempts: "attemptBoth" })?.data ?? null;
    },
  };
}

/**
 * Starts the camera into `video` and scans until a QR code is read or `stop()` is called.
 * Returns `{ decoderName, result: Promise<string|null>, stop }`.
 */
export async function startScanner(video) {
  const stream = await navigator.mediaDevices.getUserMedia({
    audio: false,
    video: { facingMode: { ideal: "environment" }, width: { ideal: 1280 }, height: { ideal: 720 } },
  });
  video.srcObject = stream;
  video.setAttribute("playsinline", "");
  video.muted = true;
  await video.play();
  const dec = await decoder();
  let stopped = false;
  const stop = () => {
    stopped = true;
    for (const track of stream.getTracks()) track.stop();
    video.srcObject = null;
  };
  const result = (async () => {
    while (!stopped) {
      try {
        const text = await dec.detect(video);
        if (text) {
          stop();
          return text;
        }
      } catch {
        /* a frame that could not be read: try the next */
      }
      await new Promise((r) => setTimeout(r, 120));
    }
    return null;
  })();
  return { decoderName: dec.name, result, stop };
}
