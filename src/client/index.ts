/**
 * `certstream-server/client`: a subscriber to a certstream server that reconnects, notices dead
 * connections, resumes durably with `id`, and gives each entry once.
 *
 *   import { subscribe } from 'certstream-server/client';
 *   const sub = subscribe('ws://127.0.0.1:4000/full-stream', { id: 'my-indexer' });
 *   sub.on('entry', (m) => console.log(m.data.leaf_cert.all_domains));
 */
export { subscribe, Subscription, type CertificateUpdate, type SubscribeOptions, type SubscriptionEvents } from './subscription.js';
export { streamUrl, LOCAL_STREAM_URL, type StreamQuery } from './stream-url.js';
export { CertstreamError, isCertstreamError } from '../errors.js';
