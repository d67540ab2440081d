/**
 * Replaces a small state file so that a crash at any moment leaves either the old or the new content,
 * never a torn mix: write a temp file next to it, fsync it, rename it over the target, then fsync the
 * directory so the rename itself survives a power loss. Used by the cursor file and the durable positions.
 */
import { open, rename, unlink } from 'node:fs/promises';
import { dirname } from 'node:path';

/**
 * Atomically writes `body` to `path` (mode 0644). On failure the temp file is removed and the
 * original error is rethrown unwrapped: each caller wraps it with its own code and message.
 */
export async function writeFileAtomic(path: string, body: string): Promise<void> {
  const tmp = `${path}.tmp`;
  try {
    const fh = await open(tmp, 'w', 0o644);
    try {
      await fh.writeFile(body);
      await fh.sync();
    } finally {
      await fh.close();
    }
    await rename(tmp, path);
    await syncDirectory(dirname(path));
  } catch (err) {
    await unlink(tmp).catch(() => undefined);
    throw err;
  }
}

/** fsyncs a directory, so that a file created or renamed in it survives a power loss. */
export async function syncDirectory(dir: string): Promise<void> {
  const fh = await open(dir, 'r');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}
