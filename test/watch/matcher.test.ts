import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { AhoCorasick } from '../../src/watch/aho-corasick.js';
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
  it('a catastrophic regex is cut off, blamed and finally disabled, while the other rules keep matching', async () => {
    // /(a+)+$/ against 'aaaa…a!' backtracks 2^29 times: minutes in V8, if nobody stops it.
    const m = matcherFor('/(a+)+$/\n/^ok-/\nexample.com\n', 200);
    try {
      const evil = `${'a'.repeat(29)}!`;
      for (let round = 1; round <= 3; round++) {
        const started = Date.now();
        const got = await hits(m, [evil, 'ok-1.net', 'www.example.com']);
        assert.deepEqual(got, ['ok-1.net /^ok-/', 'www.example.com example.com'], `round ${round}`);
        assert.ok(Date.now() - started < 5_000, `round ${round} took ${Date.now() - started} ms`);
        assert.equal(m.guard!.timeouts.get(0), round);
      }
      assert.ok(m.guard!.disabled.has(0), 'disabled after 3 overruns');
      // Disabled: no worker restart any more, and the other regex still runs.
      const started = Date.now();
      assert.deepEqual(await hits(m, [evil, 'ok-2.net']), ['ok-2.net /^ok-/']);
      assert.ok(Date.now() - started < 150, 'a disabled rule costs nothing');
      assert.equal(m.guard!.timeouts.get(0), 3);
    } finally {
      await m.close();
    }
  });
});
