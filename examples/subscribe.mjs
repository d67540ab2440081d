// The client library in ten lines: follow a server's full stream durably and print each entry's names.
// Usage (in a checkout: npm run build first): node examples/subscribe.mjs [ws://HOST:4000/full-stream] [COUNT]
import { subscribe } from 'certstream-server/client';

const [url = 'ws://127.0.0.1:4000/full-stream', count = 'Infinity'] = process.argv.slice(2);
let left = Number(count);
const sub = subscribe(url, { id: 'example-printer' });
sub.on('connect', ({ url }) => console.error(`connected to ${url}`));
sub.on('disconnect', ({ code, reason }) => console.error(`disconnected (${code} ${reason}), reconnecting`));
sub.on('gap', ({ log, from, to }) => console.error(`gap in ${log}: ${from}..${to}`));
sub.on('entry', (m) => {
  console.log(`${m.data.source.url} ${m.data.cert_index} ${m.data.leaf_cert.all_domains.join(' ')}`);
  if (--left === 0) void sub.close();
});
