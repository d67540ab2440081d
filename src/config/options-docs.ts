/**
 * Renders the options table (options.ts) for people: the `/etc/default/certstream-server` template
 * (systemd/certstream-server.default) and the README's options block. Pure; `npm run gen:options`
 * writes both files and test/config/options-docs.test.ts fails when either is out of date, so the
 * defaults in the code, --help, the template and the README cannot drift apart.
 */
import { OPTIONS, describeRange, envName, shownDefault, type OptionSpec } from './options.js';

const TEMPLATE_HEAD = `# /etc/default/certstream-server — configuration of certstream-server.service (and of the port the
# health probe uses). Installed once by scripts/install.sh and never overwritten afterwards; a newer
# template is left beside it as certstream-server.dist.
# Every line is VAR=value (systemd EnvironmentFile syntax: no \`export\`; quotes allowed). Each variable
# is the environment form of a command-line flag (--log-list -> CERTSTREAM_LOG_LIST); flags win.
# Everything below is commented out and shows the built-in default.
# Apply changes with: systemctl restart certstream-server
# (Generated from src/config/options.ts by \`npm run gen:options\`: edit the table, not this file.)
`;

const TEMPLATE_TAIL = `
# Other Node.js options. The heap limit is not set here: --max-old-space-size sits in the unit's
# ExecStart= (command-line options beat NODE_OPTIONS) below its MemoryHigh=; raise them together
# with \`systemctl edit certstream-server\` for thousands of clients.
#NODE_OPTIONS=
`;

/** Markers around the generated block in README.md. */
export const README_BEGIN = '<!-- options:begin (generated from src/config/options.ts by `npm run gen:options`) -->';
export const README_END = '<!-- options:end -->';

/** The whole systemd/certstream-server.default file. */
export function renderDefaultsFile(options: readonly OptionSpec[] = OPTIONS): string {
  const blocks = options.map((option) => {
    const range = describeRange(option);
    const text = [`${capitalise(option.help)}.${range ? ` Accepted: ${range}.` : ''}`, ...(option.notes ?? [])];
    const lines = text.flatMap((paragraph) => wrap(paragraph, 100 - 2).map((l) => `# ${l}`));
    lines.push(`#${envName(option.flag)}=${option.example ?? shownDefault(option)}`);
    return lines.join('\n');
  });
  return `${TEMPLATE_HEAD}\n${blocks.join('\n\n')}\n${TEMPLATE_TAIL}`;
}

/** The README's options table (markdown), between README_BEGIN and README_END. */
export function renderReadmeBlock(options: readonly OptionSpec[] = OPTIONS): string {
  const rows = options.map((option) => {
    const range = describeRange(option) ?? (option.kind === 'boolean' ? 'flag; true/false in the environment' : '');
    const cells = [`\`--${option.flag}\``, `\`${shownDefault(option)}\``, range, escapeCell(option.help)];
    return `| ${cells.join(' | ')} |`;
  });
  return [README_BEGIN, '| flag | default | accepted | meaning |', '|---|---|---|---|', ...rows, README_END].join('\n');
}

/** `text` with its README block replaced by the current one; throws when the markers are missing. */
export function replaceReadmeBlock(text: string, block: string = renderReadmeBlock()): string {
  const begin = text.indexOf(README_BEGIN);
  const end = text.indexOf(README_END);
  if (begin < 0 || end < begin) throw new Error('README.md has no options block markers');
  return text.slice(0, begin) + block + text.slice(end + README_END.length);
}

function capitalise(text: string): string {
  return text.charAt(0).toUpperCase() + text.slice(1);
}

function escapeCell(text: string): string {
  return text.replace(/\|/g, '\\|');
}

/** Greedy word wrap to `width` columns (a longer word stays whole). */
function wrap(text: string, width: number): string[] {
  const lines: string[] = [];
  let line = '';
  for (const word of text.split(' ')) {
    if (line !== '' && line.length + 1 + word.length > width) {
      lines.push(line);
      line = word;
    } else line = line === '' ? word : `${line} ${word}`;
  }
  if (line !== '') lines.push(line);
  return lines;
}
