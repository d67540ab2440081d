/**
 * Elixir's `String.codepoints |> Enum.filter(&String.printable?/1)` over raw bytes, which EasySSL applies
 * to user-notice text: bytes are read as UTF-8, invalid bytes are dropped one by one, and only printable
 * code points stay (U+0020–U+007E, U+00A0–U+D7FF, U+E000–U+FFFD, U+10000–U+10FFFF, plus \n \r \t \v \b
 * \f \e DEL and BEL, which Elixir also calls printable). So a BMPString notice loses its NUL bytes and
 * reads as ASCII, as on the original server.
 */

function isPrintable(cp: number): boolean {
  if (cp >= 0x20 && cp <= 0x7e) return true;
  if (cp >= 0xa0 && cp <= 0xd7ff) return true;
  if (cp >= 0xe000 && cp <= 0xfffd) return true;
  if (cp >= 0x10000 && cp <= 0x10ffff) return true;
  // \a \b \t \n \v \f \r \e DEL
  return cp === 7 || cp === 8 || cp === 9 || cp === 10 || cp === 11 || cp === 12 || cp === 13 || cp === 27 || cp === 0x7f;
}

/** Printable characters of the UTF-8 bytes `buf[start, end)`. */
export function printableText(buf: Uint8Array, start: number, end: number): string {
  let out = '';
  let i = start;
  while (i < end) {
    const b = buf[i];
    let cp = -1;
    let n = 1;
    if (b < 0x80) cp = b;
    else if (b >= 0xc2 && b <= 0xdf) {
      if (i + 1 < end && (buf[i + 1] & 0xc0) === 0x80) {
        cp = ((b & 0x1f) << 6) | (buf[i + 1] & 0x3f);
        n = 2;
      }
    } else if (b >= 0xe0 && b <= 0xef) {
      if (i + 2 < end && (buf[i + 1] & 0xc0) === 0x80 && (buf[i + 2] & 0xc0) === 0x80) {
        const v = ((b & 0x0f) << 12) | ((buf[i + 1] & 0x3f) << 6) | (buf[i + 2] & 0x3f);
        if (v >= 0x800 && (v < 0xd800 || v > 0xdfff)) {
          cp = v;
          n = 3;
        }
      }
    } else if (b >= 0xf0 && b <= 0xf4) {
      if (i + 3 < end && (buf[i + 1] & 0xc0) === 0x80 && (buf[i + 2] & 0xc0) === 0x80 && (buf[i + 3] & 0xc0) === 0x80) {
        const v = ((b & 0x07) << 18) | ((buf[i + 1] & 0x3f) << 12) | ((buf[i + 2] & 0x3f) << 6) | (buf[i + 3] & 0x3f);
        if (v >= 0x10000 && v <= 0x10ffff) {
          cp = v;
          n = 4;
        }
      }
    }
    if (cp >= 0 && isPrintable(cp)) out += String.fromCodePoint(cp);
    i += n;
  }
  return out;
}
