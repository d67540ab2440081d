/**
 * What the certaudit subcommands share beyond argument parsing: where they write (injectable for
 * tests), how long a bounded run waits for a feed to connect once, and how a live FEED becomes a
 * source to follow.
 */
import type { Argv } from 'yargs';
import { CertstreamError } from '../../errors.js';
import { WsFeedSource, type FeedSource, type FeedSpec } from '../../audit/feeds/feed-source.js';
import { readCaFile } from '../../client/trust.js';

/** A bounded run gives up with exit 69 when a feed has not connected once within this time (ms). */
export const REACH_TIMEOUT_MS = 30_000;

/** Where a command writes; injectable for tests. */
export interface CommandIo {
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WriteStream;
  env: Record<string, string | undefined>;
}

export const defaultIo = (): CommandIo => ({ stdout: process.stdout, stderr: process.stderr, env: process.env });

/**
 * Builds the live source of one side. The ct feed (undici) is loaded only when asked for: it costs
 * 10-20 MB of RSS that a plain comparison does not need.
 */
export async function makeSource(spec: FeedSpec, logList: string, access: FeedAccess = {}): Promise<FeedSource> {
  if (spec.kind === 'ws') return new WsFeedSource(spec.url, access);
  if (spec.kind === 'ct') {
    const { CtFeedSource } = await import('../../audit/feeds/ct-feed.js');
    return new CtFeedSource({ logList });
  }
  throw new CertstreamError('AUDIT_ERR_USAGE', 'a recording is not a live feed');
}

/** What a live feed of a server with access control needs: its token and a CA to trust (wss://). */
export interface FeedAccess {
  token?: string;
  ca?: Buffer;
}

/** Adds `--ca FILE` and the given token flags (each also read from an environment variable). */
export function accessOptions(y: Argv, tokens: readonly { flag: string; env: string; feed: string }[]): Argv {
  let out = y.option('ca', { type: 'string', describe: 'PEM file of a CA to trust for wss:// besides the system\'s (or NODE_EXTRA_CA_CERTS)', requiresArg: true });
  for (const t of tokens) out = out.option(t.flag, { type: 'string', describe: `access token of ${t.feed} (server with --tokens; prefer the environment variable ${t.env}: a flag shows in ps)`, requiresArg: true });
  return out;
}

/** The token (flag, else environment) and the CA of one feed; throws AUDIT_ERR_USAGE for an unreadable --ca. */
export function feedAccess(raw: Record<string, unknown>, env: Record<string, string | undefined>, token: { flag: string; env: string }): FeedAccess {
  const given = typeof raw[token.flag] === 'string' ? (raw[token.flag] as string) : env[token.env];
  return {
    token: given === undefined || given === '' ? undefined : given,
    ca: typeof raw.ca === 'string' ? readCaFile(raw.ca, 'AUDIT_ERR_USAGE') : undefined,
  };
}
