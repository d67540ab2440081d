/**
 * Size bounds on what a log can make us hold or render. Real certificates are a few kB (a CA
 * certificate 1–2 kB, a leaf with 100 names under 10 kB), so these limits are generous; anything over
 * them is a hostile or broken log, counted as a `parse` error of that log and skipped, never buffered.
 */

/** Largest certificate (leaf, pre-certificate or chain member) accepted, bytes of DER: 128 KiB. */
export const MAX_CERT_BYTES = 128 * 1024;

/** Largest chain of one entry accepted, sum of its certificates' DER bytes: 512 KiB. */
export const MAX_CHAIN_BYTES = 512 * 1024;

/** Default byte budget of the shared issuer cache (static-ct-api chains): 32 MiB. */
export const DEFAULT_ISSUER_CACHE_BYTES = 32 * 1024 * 1024;

/**
 * Largest JSON text of one get-entries item (leaf_input + extra_data in base64): the certificate and
 * chain limits in base64 plus room for the TLS framing.
 */
export const MAX_GET_ENTRIES_ITEM_BYTES = Math.ceil(((MAX_CERT_BYTES + MAX_CHAIN_BYTES) * 4) / 3) + 4096;

/** Why an entry is too large to stream, or undefined when it is within the limits. Pure. */
export function entryOversize(leaf: Uint8Array, chain: readonly Uint8Array[]): string | undefined {
  if (leaf.length > MAX_CERT_BYTES) return `certificate of ${leaf.length} bytes (limit ${MAX_CERT_BYTES})`;
  let total = 0;
  for (const c of chain) {
    if (c.length > MAX_CERT_BYTES) return `chain certificate of ${c.length} bytes (limit ${MAX_CERT_BYTES})`;
    total += c.length;
  }
  if (total > MAX_CHAIN_BYTES) return `chain of ${total} bytes (limit ${MAX_CHAIN_BYTES})`;
  return undefined;
}
