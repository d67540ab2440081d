/**
 * What the certaudit subcommands share beyond argument parsing: where they write (injectable for
 * tests), how long a bounded run waits for a feed to connect once, and how a live FEED becomes a
 * source to follow.
 */
import { CertstreamError } from '../../errors.js';
import { WsFeedSource, type FeedSource, type FeedSpec } from '../../audit/feeds/feed-source.js';

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
export async function makeSource(spec: FeedSpec, logList: string): Promise<FeedSource> {
  if (spec.kind === 'ws') return new WsFeedSource(spec.url);
  if (spec.kind === 'ct') {
    const { CtFeedSource } = await import('../../audit/feeds/ct-feed.js');
    return new CtFeedSource({ logList });
  }
  throw new CertstreamError('AUDIT_ERR_USAGE', 'a recording is not a live feed');
}
