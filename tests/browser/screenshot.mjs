// Checks that a PNG screenshot shows something: a blank page inflates to almost one byte value.
import { inflateSync } from 'node:zlib';

/** Number of distinct byte values in the PNG's decompressed image data. */
export function distinctPixelBytes(png) {
  const chunks = [];
  let offset = 8; // PNG signature
  while (offset < png.length) {
    const length = png.readUInt32BE(offset);
    const type = png.toString('ascii', offset + 4, offset + 8);
    if (type === 'IDAT') chunks.push(png.subarray(offset + 8, offset + 8 + length));
    offset += 12 + length;
  }
  const pixels = inflateSync(Buffer.concat(chunks));
  const seen = new Set();
  for (const byte of pixels) seen.add(byte);
  return seen.size;
}
