"""A drawn face for the identity-photo tests (issue 19): a JPEG made with Pillow, with EXIF that
carries a GPS position (which the server must not keep). Usage: face.py OUT.jpg [WIDTH HEIGHT]."""
import sys

from PIL import Image, ImageDraw

out = sys.argv[1]
w, h = (int(sys.argv[2]), int(sys.argv[3])) if len(sys.argv) > 3 else (900, 1200)
img = Image.new("RGB", (w, h), (214, 228, 240))
d = ImageDraw.Draw(img)
cx, cy, r = w // 2, h // 2, min(w, h) // 3
d.ellipse([cx - r, cy - int(r * 1.25), cx + r, cy + int(r * 1.25)], fill=(240, 200, 170), outline=(90, 60, 40), width=6)
d.pieslice([cx - r, cy - int(r * 1.35), cx + r, cy - int(r * 0.1)], 180, 360, fill=(200, 200, 205))  # grey hair
for ex in (cx - r // 2.6, cx + r // 2.6):
    d.ellipse([ex - r // 9, cy - r // 4 - r // 12, ex + r // 9, cy - r // 4 + r // 12], fill=(40, 30, 30))
d.line([cx, cy - r // 8, cx - r // 12, cy + r // 5, cx + r // 24, cy + r // 5], fill=(150, 100, 80), width=5)
d.arc([cx - r // 2.5, cy + r // 5, cx + r // 2.5, cy + r // 1.6], 20, 160, fill=(150, 40, 40), width=7)
exif = Image.Exif()
exif[0x8825] = {1: "N", 2: (36.0, 1.0, 26.0), 3: "E", 4: (139.0, 59.0, 36.0)}
img.save(out, "JPEG", exif=exif.tobytes(), quality=88)
