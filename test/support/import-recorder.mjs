// Preload for a spawned process (`node --import <this file>?out=<path>`): appends the URL of every module
// the process resolves, one per line, to <path>, lazy imports included. How a test sees which modules a
// real daemon loaded. The path travels in this module's own URL, so the child needs no extra environment.
import { register } from 'node:module';

const out = new URL(import.meta.url).searchParams.get('out');
if (!out) throw new Error('import-recorder: no ?out=<path> in the --import URL');
register('./import-recorder-hooks.mjs', import.meta.url, { data: { out } });
