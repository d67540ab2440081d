/**
 * JSON output exactly as the original server's encoder (Jason 1.2.2 on Erlang/OTP) wrote it:
 * strings escape only `"`, `\` and control characters (U+0000–U+001F; \b \t \n \f \r by name, the others
 * as \u00XX with UPPERCASE hex), everything else is written raw; floats use Erlang's shortest form.
 */

// eslint-disable-next-line no-control-regex
const NEEDS_ESCAPE = /["\\\u0000-\u001f]/;
const LOWER_HEX_ESCAPE = /\\u00([0-9a-f]{2})/g;

/** A JSON string literal for `s`. */
export function jsonString(s: string): string {
  if (!NEEDS_ESCAPE.test(s)) return '"' + s + '"';
  // JSON.stringify escapes the same set; only the hex case of \u00XX differs from Jason.
  return JSON.stringify(s).replace(LOWER_HEX_ESCAPE, (_m, hex: string) => '\\u00' + hex.toUpperCase());
}

/** A JSON string literal or `null`. */
export function jsonNullableString(s: string | null): string {
  return s === null ? 'null' : jsonString(s);
}

/** A JSON array of strings. */
export function jsonStringArray(items: readonly string[]): string {
  let out = '[';
  for (let i = 0; i < items.length; i++) out += (i === 0 ? '' : ',') + jsonString(items[i]);
  return out + ']';
}

let lastFloat = NaN;
let lastFloatText = '';

/**
 * Erlang's `io_lib_format:fwrite_g/1` (what Jason uses for floats): the shortest round-trip digits,
 * written in plain notation unless the exponent form is shorter, so 1730205715.758093 stays as is,
 * 1730205715 becomes "1730205715.0" and 1730205700 becomes "1.7302057e9".
 * @param x a finite number (epoch seconds for `seen`)
 */
export function erlangFloat(x: number): string {
  // Entries of one batch share their `seen`: remember the last conversion.
  if (Object.is(x, lastFloat)) return lastFloatText;
  const text = erlangFloatUncached(x);
  lastFloat = x;
  lastFloatText = text;
  return text;
}

function erlangFloatUncached(x: number): string {
  // Fast path for epoch seconds with a fraction: plain notation, which is String(x) in this range.
  if (x >= 1 && x < 2 ** 53 && !Number.isInteger(x)) return String(x);
  if (x === 0) return Object.is(x, -0) ? '-0.0' : '0.0';
  if (!Number.isFinite(x)) throw new RangeError(`cannot encode ${x} as a JSON float`);
  const sign = x < 0 ? '-' : '';
  const [mant, expText] = Math.abs(x).toExponential().split('e');
  const digits = mant.replace('.', '');
  const exp10 = Number(expText);
  const len = digits.length;
  // value = digits × 10^place
  const place = exp10 - (len - 1);
  const expL = String(exp10);
  const expCost = expL.length + 2;
  const insertExp = (): string => (len === 1 ? digits + '.0e' + expL : digits[0] + '.' + digits.slice(1) + 'e' + expL);
  let body: string;
  if (place < 0) {
    if (exp10 >= 0) body = digits.slice(0, len + place) + '.' + digits.slice(len + place);
    else if (2 - place - len <= expCost) body = '0.' + '0'.repeat(-place - len) + digits;
    else body = insertExp();
  } else {
    const dot = len === 1 ? 1 : 0;
    if (expCost + dot >= place + 2 && Math.abs(x) < 2 ** 53) body = digits + '0'.repeat(place) + '.0';
    else body = insertExp();
  }
  return sign + body;
}
