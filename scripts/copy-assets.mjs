#!/usr/bin/env node
// Part of `npm run build`: tsc compiles only TypeScript, so the dashboard's static files (HTML, CSS,
// the page's script) are copied beside their compiled module, where static-assets.ts reads them.
import { cpSync } from 'node:fs';

cpSync('src/http/dashboard/assets', 'dist/http/dashboard/assets', { recursive: true });
