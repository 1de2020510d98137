#!/usr/bin/env node
// Renders the proxwatch icon (a pulse line on a rounded square, the same
// drawing as public/icons/icon.svg) to PNG with nothing but node:zlib.
// Run `npm run icons` after changing the drawing; the PNGs are committed.
// `maskable-512.png` (and icons/maskable.svg) is the same drawing for launchers that crop icons to
// their own shape: the background fills the whole square and the pulse line is shrunk to 80 % so it
// stays inside the safe zone (the centre circle of 40 % radius).

import { deflateSync } from 'node:zlib';
import { writeFileSync, mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const OUT = join(dirname(fileURLToPath(import.meta.url)), '..', 'public', 'icons');

// Drawing in a 64x64 design space; keep in sync with icon.svg.
const BG = [0x1f, 0x6f, 0xd1];
const FG = [0xff, 0xff, 0xff];
const RADIUS = 14;
const STROKE = 5;
const LINE = [
  [10, 34],
  [22, 34],
  [28, 20],
  [36, 46],
  [42, 30],
  [46, 34],
  [54, 34],
];

function insideRoundRect(x, y, size, r) {
  const cx = Math.min(Math.max(x, r), size - r);
  const cy = Math.min(Math.max(y, r), size - r);
  return (x - cx) ** 2 + (y - cy) ** 2 <= r * r && x >= 0 && y >= 0 && x <= size && y <= size;
}

function distToSegment(px, py, [ax, ay], [bx, by]) {
  const dx = bx - ax;
  const dy = by - ay;
  const t = Math.max(0, Math.min(1, ((px - ax) * dx + (py - ay) * dy) / (dx * dx + dy * dy)));
  return Math.hypot(px - (ax + t * dx), py - (ay + t * dy));
}

function onLine(x, y) {
  for (let i = 0; i + 1 < LINE.length; i++) {
    if (distToSegment(x, y, LINE[i], LINE[i + 1]) <= STROKE / 2) return true;
  }
  return false;
}

/** The maskable icon's pulse line is this much smaller, about the icon's centre. */
const MASKABLE_SHRINK = 0.8;

function render(size, maskable = false) {
  const ss = 4; // 4x4 supersampling for anti-aliasing
  const scale = 64 / size;
  const rgba = Buffer.alloc(size * size * 4);
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      let cover = 0;
      let line = 0;
      for (let sy = 0; sy < ss; sy++) {
        for (let sx = 0; sx < ss; sx++) {
          const dx = (x + (sx + 0.5) / ss) * scale;
          const dy = (y + (sy + 0.5) / ss) * scale;
          if (maskable) {
            cover++;
            if (onLine(32 + (dx - 32) / MASKABLE_SHRINK, 32 + (dy - 32) / MASKABLE_SHRINK)) line++;
          } else if (insideRoundRect(dx, dy, 64, RADIUS)) {
            cover++;
            if (onLine(dx, dy)) line++;
          }
        }
      }
      const n = ss * ss;
      const o = (y * size + x) * 4;
      const a = cover / n;
      const l = cover ? line / cover : 0;
      for (let c = 0; c < 3; c++) rgba[o + c] = Math.round(BG[c] * (1 - l) + FG[c] * l);
      rgba[o + 3] = Math.round(a * 255);
    }
  }
  return rgba;
}

const CRC_TABLE = new Uint32Array(256).map((_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});

function crc32(buf) {
  let c = 0xffffffff;
  for (const b of buf) c = CRC_TABLE[(c ^ b) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

function chunk(type, data) {
  const len = Buffer.alloc(4);
  len.writeUInt32BE(data.length);
  const td = Buffer.concat([Buffer.from(type, 'ascii'), data]);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(td));
  return Buffer.concat([len, td, crc]);
}

function png(size, maskable = false) {
  const rgba = render(size, maskable);
  const raw = Buffer.alloc(size * (size * 4 + 1));
  for (let y = 0; y < size; y++) {
    raw[y * (size * 4 + 1)] = 0; // filter: none
    rgba.copy(raw, y * (size * 4 + 1) + 1, y * size * 4, (y + 1) * size * 4);
  }
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(size, 0);
  ihdr.writeUInt32BE(size, 4);
  ihdr[8] = 8; // bit depth
  ihdr[9] = 6; // colour type RGBA
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', ihdr),
    chunk('IDAT', deflateSync(raw, { level: 9 })),
    chunk('IEND', Buffer.alloc(0)),
  ]);
}

mkdirSync(OUT, { recursive: true });
for (const size of [192, 512]) {
  const file = join(OUT, `icon-${size}.png`);
  writeFileSync(file, png(size));
  console.log(`wrote ${file}`);
}
const maskable = join(OUT, 'maskable-512.png');
writeFileSync(maskable, png(512, true));
console.log(`wrote ${maskable}`);
