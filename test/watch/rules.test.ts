import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { normaliseName, parseWatchFile } from '../../src/watch/rules.js';

describe('watch file rules', () => {
  it('parses the four kinds, comments and blank lines, keeping line numbers', () => {
    const { rules, problems } = parseWatchFile(
      '# my domains\nexample.com\n\n=Login.Example.ORG  # exact\n~paypal\n/^(?:ww|vv)w\\.bank/i # lookalikes\n*.wild.net\n',
    );
    assert.deepEqual(problems, []);
    assert.deepEqual(
      rules.map((r) => [r.kind, r.value, r.flags, r.line, r.text]),
      [
        ['domain', 'example.com', '', 2, 'example.com'],
        ['exact', 'login.example.org', '', 4, '=Login.Example.ORG'],
        ['substring', 'paypal', '', 5, '~paypal'],
        ['regex', '^(?:ww|vv)w\\.bank', 'i', 6, '/^(?:ww|vv)w\\.bank/i'],
        ['domain', 'wild.net', '', 7, '*.wild.net'],
      ],
    );
  });

  it('reports every problem with its line number', () => {
    const { problems } = parseWatchFile('good.com\n/(unclosed/\nbad name.com\n~\n/x/g\nexample..com\ngood.com\n');
    assert.deepEqual(problems.map((p) => p.line), [2, 3, 4, 5, 6, 7]);
    assert.match(problems[0].message, /invalid regular expression/);
    assert.match(problems[5].message, /repeats the rule of line 1/);
  });

  it('an empty watch file is a problem', () => {
    assert.equal(parseWatchFile('# nothing\n\n').problems.length, 1);
  });

  it('normalises case, punycode, a leading wildcard and a trailing dot', () => {
    assert.equal(normaliseName('*.WWW.Example.COM.'), 'www.example.com');
    assert.equal(normaliseName('xn--bcher-kva.example'), 'bücher.example');
    assert.equal(normaliseName('xn--pypal-4ve.com'), 'pаypal.com'); // Cyrillic а: a look-alike, decoded
    // rules written in punycode or Unicode mean the same name
    const { rules } = parseWatchFile('xn--bcher-kva.example\n');
    assert.equal(rules[0].value, 'bücher.example');
  });
});
