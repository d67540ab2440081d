// Writes the option docs generated from the options table (src/config/options.ts):
// systemd/certstream-server.default and the options block of README.md. Run: npm run gen:options
import { readFileSync, writeFileSync } from 'node:fs';
import { renderDefaultsFile, replaceReadmeBlock } from '../src/config/options-docs.js';

writeFileSync('systemd/certstream-server.default', renderDefaultsFile());
writeFileSync('README.md', replaceReadmeBlock(readFileSync('README.md', 'utf8')));
console.log('gen-options-docs: wrote systemd/certstream-server.default and the README options block');
