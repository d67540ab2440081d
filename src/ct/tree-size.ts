/**
 * Plausibility of a log's head (pure). A tree size is only trusted as far as these checks go (STH and
 * checkpoint signatures are not verified), and an implausible one must never reach the cursor file: a
 * saved cursor of 2^53−1 would stall the log forever. The largest logs hold about 2^31 entries and grow
 * by thousands per minute, so both bounds are far from anything real.
 */
import { CertstreamError } from '../errors.js';

/** Largest tree size believed: 2^40 (about 1.1 × 10^12 entries, 500 times the largest log today). */
export const MAX_TREE_SIZE = 2 ** 40;

/** Largest growth believed between two heads seen by one process: 2^28 (268 million entries). */
export const MAX_HEAD_JUMP = 2 ** 28;

/**
 * Throws CT_ERR_IMPLAUSIBLE_HEAD when `size` is not a safe non-negative integer, is over MAX_TREE_SIZE,
 * or is more than MAX_HEAD_JUMP ahead of `previous` (the last head seen, null when none).
 */
export function checkTreeSize(size: number, previous: number | null, what = 'tree size'): void {
  if (!Number.isSafeInteger(size) || size < 0 || size > MAX_TREE_SIZE) {
    throw new CertstreamError('CT_ERR_IMPLAUSIBLE_HEAD', `${what} ${size} is not plausible (limit ${MAX_TREE_SIZE}); not followed`);
  }
  if (previous !== null && size - previous > MAX_HEAD_JUMP) {
    throw new CertstreamError(
      'CT_ERR_IMPLAUSIBLE_HEAD',
      `${what} ${size} jumped ${size - previous} entries past the previous head ${previous} (limit ${MAX_HEAD_JUMP}); not followed`,
    );
  }
}
