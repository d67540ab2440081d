import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { AhoCorasick } from '../../src/match/aho-corasick.js';
import { Matcher } from '../../src/watch/matcher.js';
import { parseWatchFile } from '../../src/watch/rules.js';

function matcherFor(text: string, timeoutMs = 1000): Matcher {
  const { rules, problems } = parseWatchFile(text);
  assert.deepEqual(problems, []);
  return new Matcher(rules, { timeoutMs });
}

async function hits(m: Matcher, names: string[]): Promise<string[]> {
  return (await m.match(names)).map((h) => `${h.name} ${h.rule.text}`).sort();
}

describe('Aho-Corasick', () => {
  it('finds overlapping patterns and patterns inside others, compared with a naive search', () => {
    const patterns = ['he', 'she', 'his', 'hers', 'paypal', 'pal', 'a'];
    const ac = new AhoCorasick(patterns);
    for (const text of ['ushers', 'mypaypal-login.com', 'xyz', '', 'ahishe']) {
      const found = new Set<number>();
      ac.search(text, (id) => found.add(id));
      const naive = new Set(patterns.map((p, i) => (text.includes(p) ? i : -1)).filter((i) => i >= 0));
      assert.deepEqual([...found].sort(), [...naive].sort(), text);
    }
  });
});

describe('Matcher', () => {
  const m = matcherFor('example.com\n=exact.org\n~paypal\n/^secure-[0-9]+\\./\nbücher.example\n');
  after(() => m.close());

  it('domain rules match the domain and its subdomains, not look-alike suffixes', async () => {
    assert.deepEqual(await hits(m, ['example.com', 'a.b.example.com', 'notexample.com', 'example.com.evil.net']), [
      'a.b.example.com example.com',
      'example.com example.com',
    ]);
  });

  it('exact rules match only that name; wildcards and case are normalised', async () => {
    assert.deepEqual(await hits(m, ['exact.org', 'www.exact.org', '*.EXACT.org']), ['exact.org =exact.org', 'exact.org =exact.org']);
  });

  it('substrings, regexes and IDNA names', async () => {
    assert.deepEqual(await hits(m, ['login-paypal.com.evil.net', 'secure-42.bank.net', 'xn--bcher-kva.example']), [
      'bücher.example bücher.example',
      'login-paypal.com.evil.net ~paypal',
      'secure-42.bank.net /^secure-[0-9]+\\./',
    ]);
  });
});

describe('hostile regular expressions', () => {
  // No wall-clock bounds: the overruns are counted (the guard's onTimeout), so the test follows what the
  // guard did rather than how long it took on this machine. The budget is the default 1 s: /(a+)+$/
  // below needs minutes, so it always overruns, while the cheap rules (and a worker start) stay far
  // inside it even on a loaded machine. The test's own timeout is only a liveness bound: it fails a
  // guard that never cuts the regex off (minutes), not a slow one.
  it('a catastrophic regex is cut off, blamed and finally disabled, while the other rules keep matching', { timeout: 120_000 }, async () => {
    // /(a+)+$/ against 'aaaa…a!' backtracks 2^29 times: minutes in V8, if nobody stops it.
    const { rules, problems } = parseWatchFile('/(a+)+$/\n/^ok-/\nexample.com\n');
    assert.deepEqual(problems, []);
    const overruns: string[] = [];
    const m = new Matcher(rules, { timeoutMs: 1000, onTimeout: (rule, count, disabled) => overruns.push(`${rule.text} ${count}${disabled ? ' disabled' : ''}`) });
    try {
      const evil = `${'a'.repeat(29)}!`;
      for (let round = 1; round <= 3; round++) {
        const got = await hits(m, [evil, 'ok-1.net', 'www.example.com']);
        assert.deepEqual(got, ['ok-1.net /^ok-/', 'www.example.com example.com'], `round ${round}`);
        assert.equal(m.guard!.timeouts.get(0), round);
      }
      assert.deepEqual(overruns, ['/(a+)+$/ 1', '/(a+)+$/ 2', '/(a+)+$/ 3 disabled'], 'only the catastrophic rule is blamed');
      assert.ok(m.guard!.disabled.has(0), 'disabled after 3 overruns');
      // Disabled costs nothing: it is no longer run at all, so it cannot overrun again, and the other
      // regex still runs (in a fresh worker: the last overrun ended the previous one).
      assert.deepEqual(await hits(m, [evil, 'ok-2.net']), ['ok-2.net /^ok-/']);
      assert.equal(m.guard!.timeouts.get(0), 3);
      assert.equal(overruns.length, 3, 'no overrun once disabled');
    } finally {
      await m.close();
    }
  });
});
