/**
 * The `--tokens` file (interface.md, "Access control and TLS"), pure: one token a line,
 * `NAME SHA256HEX [max-connections]`, `#` comments and blank lines ignored. Only the SHA-256 of a token
 * is written down, so the file gives away no token. A malformed line is one error naming its line.
 */
import { CertstreamError } from '../errors.js';

/** One token: its NAME (shown in metrics and logs, never the token itself) and its digest. */
export interface TokenSpec {
  /** 1-64 of A-Z a-z 0-9 . _ - (it prefixes the token's durable NAMEs: no `/`). */
  readonly name: string;
  /** SHA-256 of the token's UTF-8 bytes (32 bytes). */
  readonly digest: Buffer;
  /** Stream connections this token may hold at once; undefined = no limit of its own. */
  readonly maxConnections?: number;
}

const NAME = /^[A-Za-z0-9._-]{1,64}$/;
const DIGEST = /^[0-9a-fA-F]{64}$/;
const MAX_CONNECTIONS = 1_048_576;

/**
 * Parses a tokens file. Throws CONFIG_ERR_INVALID with `FILE line N: problem` for the first bad line, a
 * repeated NAME or a repeated digest (two names for one token would make its owner ambiguous).
 */
export function parseTokenFile(text: string, file: string): TokenSpec[] {
  const tokens: TokenSpec[] = [];
  const names = new Set<string>();
  const digests = new Set<string>();
  const lines = text.split(/\r?\n/);
  for (let i = 0; i < lines.length; i++) {
    const fail = (problem: string): never => {
      throw new CertstreamError('CONFIG_ERR_INVALID', `--tokens ${file} line ${i + 1}: ${problem}`);
    };
    const line = lines[i].replace(/#.*$/, '').trim();
    if (line === '') continue;
    const fields = line.split(/\s+/);
    if (fields.length < 2 || fields.length > 3) fail(`expected "NAME SHA256HEX [max-connections]", found ${fields.length} field(s)`);
    const [name, hex, max] = fields;
    if (!NAME.test(name)) fail(`NAME must be 1-64 of A-Z a-z 0-9 . _ - (found ${JSON.stringify(name.slice(0, 80))})`);
    // The value itself is not echoed: someone may have pasted the token instead of its digest.
    if (!DIGEST.test(hex)) fail(`the second field of ${name} must be 64 hex digits (the SHA-256 of the token, e.g. from \`printf %s TOKEN | sha256sum\`)`);
    if (names.has(name)) fail(`NAME ${name} appears twice`);
    if (digests.has(hex.toLowerCase())) fail(`${name} has the same digest as an earlier line`);
    let maxConnections: number | undefined;
    if (max !== undefined) {
      maxConnections = /^\d{1,7}$/.test(max) ? Number(max) : NaN;
      if (!(maxConnections >= 1 && maxConnections <= MAX_CONNECTIONS)) fail(`max-connections of ${name} must be an integer from 1 to ${MAX_CONNECTIONS} (found ${JSON.stringify(max.slice(0, 20))})`);
    }
    names.add(name);
    digests.add(hex.toLowerCase());
    tokens.push({ name, digest: Buffer.from(hex, 'hex'), maxConnections });
  }
  return tokens;
}
