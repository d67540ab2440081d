/**
 * Which token an admitted upgrade came with, for the durable side: with tokens, the key of a durable
 * subscription is (token NAME, id, stream). The positions stores keep their API: the NAME handed to them
 * is `TOKEN/id` (neither a token NAME nor an id can hold `/`, so no two pairs give one key). Without
 * tokens the id is the key, as before.
 */
import type { IncomingMessage } from 'node:http';
import type { SubscriptionQuery } from '../stream/subscription-query.js';

const owners = new WeakMap<IncomingMessage, string>();

/** Records the token NAME `req` was admitted with. */
export function setRequestOwner(req: IncomingMessage, tokenName: string): void {
  owners.set(req, tokenName);
}

/** `query` with its id owned by the token `req` came with (`TOKEN/id`); unchanged without one. */
export function ownedQuery(req: IncomingMessage, query: SubscriptionQuery): SubscriptionQuery {
  const owner = owners.get(req);
  return owner === undefined || query.id === undefined ? query : { ...query, id: `${owner}/${query.id}` };
}
