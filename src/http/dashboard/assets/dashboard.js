// certstream-server dashboard: polls /status.json (one small request every 2 s, whatever the stream's
// rate) and updates the page in place. The certificate list shows the server's sample (at most a few
// certificates a second), never every frame, so the page stays light at the full firehose.
'use strict';
(() => {
  const POLL_MS = 2000;
  const HIDDEN_POLL_MS = 10000; // a background tab costs the server even less
  const KEEP = 500; // sampled certificates kept in the page, for the filter
  const SHOW = 100; // rows rendered at most
  const STATE_RANK = { failing: 0, behind: 1, starting: 2, ok: 3 };
  const STATE_MARK = { failing: 'failing', behind: 'behind', starting: '', ok: '' };

  const $ = (id) => document.getElementById(id);
  let after = 0;
  let recent = []; // newest first
  let filter = '';
  let last = null;
  let renderQueued = false;

  const int = (n) => (typeof n === 'number' ? n.toLocaleString('en-US') : '–');
  const rate = (x) => (typeof x !== 'number' ? '–' : x >= 100 ? Math.round(x).toLocaleString('en-US') : x.toFixed(1));

  function duration(seconds) {
    const s = Math.max(0, Math.round(seconds));
    if (s < 60) return s + ' s';
    if (s < 3600) return Math.floor(s / 60) + ' min ' + (s % 60) + ' s';
    if (s < 86400) return Math.floor(s / 3600) + ' h ' + Math.floor((s % 3600) / 60) + ' min';
    return Math.floor(s / 86400) + ' d ' + Math.floor((s % 86400) / 3600) + ' h';
  }

  function bytes(n) {
    if (typeof n !== 'number') return '–';
    const units = ['B', 'KB', 'MB', 'GB', 'TB'];
    let i = 0;
    while (n >= 1024 && i < units.length - 1) { n /= 1024; i++; }
    return (i === 0 ? n : n.toFixed(1)) + ' ' + units[i];
  }

  function el(tag, className, text) {
    const e = document.createElement(tag);
    if (className) e.className = className;
    if (text !== undefined) e.textContent = text;
    return e;
  }

  function renderTotals(s) {
    const badge = $('status');
    badge.textContent = s.status;
    badge.className = 'badge ' + s.status;
    $('version').textContent = s.version;
    $('uptime').textContent = duration(s.uptime_seconds);
    $('t-certs').textContent = int(s.certificates);
    $('t-rate').textContent = rate(s.entries_per_second);
    $('t-logs').textContent = s.healthy_logs + ' / ' + s.logs.length;
    const c = s.clients_by_stream;
    $('t-clients').textContent = c.lite + ' · ' + c.full + ' · ' + c.domains;
    // Clients with a match= filter are among those counted; servers without filtering omit the field.
    const f = s.filtered_clients_by_stream;
    const nFiltered = f ? f.lite + f.full + f.domains : 0;
    $('t-filtered').textContent = nFiltered > 0 ? int(nFiltered) + ' filtered (match=)' : '';
    $('t-dropped').textContent = int(s.dropped_messages);
    $('t-slow').textContent = int(s.slow_client_closes);
    // Replay window and durable subscriptions come with lossless delivery; older servers omit them.
    const w = s.replay_window;
    const age = w && w.age_seconds;
    $('t-replay').textContent = w ? (typeof age === 'number' ? duration(age) : '–') + ' · ' + bytes(w.bytes) : 'not reported';
    // A failed cursor flush means a restart would resume from an older position: say it at the top.
    const cursorError = s.cursors && s.cursors.last_error;
    $('cursor-error').textContent = cursorError ? 'cursor file not saved: ' + cursorError : '';
    $('t-durable').textContent = typeof s.durable_subscriptions === 'number' ? int(s.durable_subscriptions) : 'not reported';
  }

  // Rows are kept per log and updated in place: rebuilding the table every poll costs the browser a
  // full layout of it, and most cells do not change between two polls.
  const rowsByUrl = new Map();

  function setText(node, text) {
    if (node.textContent !== text) node.textContent = text;
  }

  function logRow(l) {
    let row = rowsByUrl.get(l.url);
    if (row) return row;
    const tr = el('tr');
    tr.dataset.url = l.url;
    const cells = {
      name: el('td', 'name'),
      title: el('span', 'title'),
      mark: el('span', 'mark'),
      kind: el('td', 'opt'),
      tree: el('td', 'num tree'),
      next: el('td', 'num opt next'),
      lag: el('td', 'num lag'),
      verified: el('td', 'verified'),
      rate: el('td', 'num rate'),
      chart: el('td', 'chart opt'),
      success: el('td', 'success'),
      err: el('td', 'err'),
    };
    cells.name.append(cells.title, cells.mark, el('span', 'url', l.url));
    tr.append(cells.name, cells.kind, cells.tree, cells.next, cells.lag, cells.verified, cells.rate, cells.chart, cells.success, cells.err);
    row = { tr, cells };
    rowsByUrl.set(l.url, row);
    return row;
  }

  // A log's entries/s over the last ten minutes as a line (inline SVG, no library): the newest point at
  // the right edge, the scale from 0 to the series' own maximum (its title says the figures).
  const SVG = 'http://www.w3.org/2000/svg';
  const CHART_W = 120;
  const CHART_H = 24;
  function drawChart(td, points, step) {
    let svg = td.firstChild;
    if (!svg) {
      svg = document.createElementNS(SVG, 'svg');
      svg.setAttribute('viewBox', '0 0 ' + CHART_W + ' ' + CHART_H);
      svg.setAttribute('width', String(CHART_W));
      svg.setAttribute('height', String(CHART_H));
      svg.setAttribute('role', 'img');
      svg.append(document.createElementNS(SVG, 'title'), document.createElementNS(SVG, 'polyline'));
      td.append(svg);
    }
    const max = Math.max(0, ...points);
    const n = Math.max(points.length, 2);
    const dx = CHART_W / (60 - 1);
    const xy = points.map((p, i) => {
      const x = CHART_W - (points.length - 1 - i) * dx;
      const y = max > 0 ? CHART_H - 1 - (p / max) * (CHART_H - 2) : CHART_H - 1;
      return x.toFixed(1) + ',' + y.toFixed(1);
    });
    if (xy.length === 1) xy.unshift((CHART_W - dx).toFixed(1) + ',' + xy[0].split(',')[1]);
    const line = svg.lastChild;
    const pts = xy.join(' ');
    if (line.getAttribute('points') !== pts) line.setAttribute('points', pts);
    const minutes = Math.round(((n - 1) * (step || 10)) / 60);
    setText(svg.firstChild, points.length === 0 ? 'no rate yet' :
      'entries/s over the last ' + (minutes < 1 ? 'minute' : minutes + ' min') + ': now ' + rate(points[points.length - 1]) + ', peak ' + rate(max));
  }

  function renderLogs(s) {
    const logs = s.logs.slice().sort((a, b) =>
      STATE_RANK[a.state] - STATE_RANK[b.state] || b.lag - a.lag || a.name.localeCompare(b.name));
    const body = $('logs').tBodies[0];
    const present = new Set();
    logs.forEach((l, i) => {
      present.add(l.url);
      const { tr, cells: c } = logRow(l);
      if (tr.className !== l.state) tr.className = l.state;
      setText(c.title, l.name);
      setText(c.mark, STATE_MARK[l.state]);
      c.mark.hidden = !STATE_MARK[l.state];
      setText(c.kind, l.kind === 'static' ? 'static-ct-api' : 'RFC 6962');
      setText(c.tree, int(l.tree_size));
      setText(c.next, int(l.next_index));
      setText(c.lag, int(l.lag));
      // interface.md "Verified logs": the state, and up to which tree size the log's roots matched ours.
      setText(c.verified, l.verified_size === null ? l.verification : l.verification + ' · ' + int(l.verified_size));
      c.verified.dataset.state = l.verification;
      setText(c.rate, rate(l.entries_per_second));
      drawChart(c.chart, l.rate_history || [], s.rate_history_step_seconds);
      setText(c.success, l.last_success === null ? 'never' : duration(s.now - l.last_success) + ' ago');
      setText(c.err, l.last_error === null ? '' : l.last_error);
      // Move a row only when the order changed.
      if (body.children[i] !== tr) body.insertBefore(tr, body.children[i] || null);
    });
    for (const [url, row] of rowsByUrl) {
      if (present.has(url)) continue;
      row.tr.remove();
      rowsByUrl.delete(url);
    }
    const trouble = logs.filter((l) => l.state === 'failing' || l.state === 'behind').length;
    setText($('logs-note'), trouble === 0 ? 'all healthy' : trouble + ' in trouble, listed first');
  }

  function matches(c) {
    if (!filter) return true;
    if (c.issuer.toLowerCase().includes(filter) || c.log.toLowerCase().includes(filter)) return true;
    return c.domains.some((d) => d.toLowerCase().includes(filter));
  }

  function certItem(c) {
    const li = el('li');
    li.dataset.index = c.cert_index;
    const domains = el('span', 'domains');
    if (c.precert) domains.append(el('span', 'pre', 'precert'));
    domains.append(c.domains.slice(0, 4).join(', ') || '(no domain)');
    if (c.domain_count > 4) domains.append(el('span', 'more', ' +' + (c.domain_count - 4)));
    li.append(
      el('span', 'time', new Date(c.seen * 1000).toLocaleTimeString('en-GB')),
      domains,
      el('span', 'issuer', c.issuer),
      el('span', 'log', c.log),
    );
    return li;
  }

  // New certificates are put on top of the list and the oldest rows dropped, so a poll adds a few
  // rows instead of rebuilding a hundred; a new filter rebuilds the list once.
  let pendingNew = [];
  let rebuild = true;

  function renderRecent() {
    renderQueued = false;
    const list = $('recent');
    if (rebuild) {
      rebuild = false;
      pendingNew = [];
      const frag = document.createDocumentFragment();
      for (const c of recent) {
        if (frag.childNodes.length >= SHOW) break;
        if (matches(c)) frag.append(certItem(c));
      }
      list.replaceChildren(frag);
    } else if (pendingNew.length > 0) {
      const frag = document.createDocumentFragment();
      for (const c of pendingNew) if (matches(c)) frag.append(certItem(c));
      pendingNew = [];
      const empty = list.querySelector('li.empty');
      if (empty && frag.childNodes.length > 0) empty.remove();
      list.prepend(frag);
      while (list.children.length > SHOW) list.lastElementChild.remove();
    }
    const shown = list.querySelectorAll('li[data-index]').length;
    if (shown === 0 && !list.querySelector('li.empty')) {
      list.append(el('li', 'empty', recent.length === 0 ? 'waiting for certificates…' : 'nothing matches the filter'));
    }
    let note = '';
    if (filter) {
      const matched = recent.filter(matches).length;
      note = matched + ' of ' + recent.length + ' match' + (matched > shown ? ', first ' + shown + ' shown' : '');
    }
    setText($('shown'), note);
  }

  function queueRecent() {
    if (renderQueued) return;
    renderQueued = true;
    requestAnimationFrame(renderRecent);
  }

  function mergeRecent(r, restarted) {
    // A server restart starts its sequence again: drop what we had rather than mix two runs.
    if (restarted || r.last_seq < after) {
      recent = [];
      rebuild = true;
    }
    after = r.last_seq;
    if (r.certificates.length === 0) return false;
    const fresh = r.certificates.slice().reverse();
    recent = fresh.concat(recent).slice(0, KEEP);
    pendingNew = fresh.concat(pendingNew).slice(0, SHOW);
    return true;
  }

  function render(s) {
    const restarted = last !== null && s.uptime_seconds < last.uptime_seconds;
    last = s;
    renderTotals(s);
    renderLogs(s);
    const fresh = mergeRecent(s.recent, restarted);
    setText($('sample-note'), 'Sampled: at most ' + s.recent.sampled_per_second + ' certificates a second of the ' +
      rate(s.entries_per_second) + '/s streamed are listed, refreshed every ' + POLL_MS / 1000 +
      ' s; the page never renders every frame. The last ' + KEEP + ' are kept for the filter.');
    if (fresh || recent.length === 0) queueRecent();
  }

  let timer;
  let inFlight = false;

  // A server with --protect-metrics answers /status.json only with a token: kept for this tab's session
  // only, taken from the form or from #token= (a fragment never reaches the server or its logs).
  const TOKEN_KEY = 'certstream-token';
  const hashToken = /^#token=(.+)$/.exec(location.hash);
  if (hashToken) {
    sessionStorage.setItem(TOKEN_KEY, decodeURIComponent(hashToken[1]));
    history.replaceState(null, '', location.pathname + location.search);
  }
  function authHeaders() {
    const token = sessionStorage.getItem(TOKEN_KEY);
    return token ? { authorization: 'Bearer ' + token } : {};
  }
  function tokenNeeded(refused) {
    $('token-needed').hidden = false;
    $('token-note').textContent = refused ? 'that token was refused' : '';
    $('conn').textContent = 'a token is needed';
  }
  $('token-use').addEventListener('click', () => {
    const token = $('token-input').value.trim();
    $('token-input').value = '';
    if (token !== '') sessionStorage.setItem(TOKEN_KEY, token);
    poll();
  });

  async function poll() {
    clearTimeout(timer);
    inFlight = true;
    try {
      const res = await fetch('/status.json?after=' + after, { cache: 'no-store', headers: authHeaders(), signal: AbortSignal.timeout(10000) });
      if (res.status === 401) return tokenNeeded(sessionStorage.getItem(TOKEN_KEY) !== null);
      if (!res.ok) throw new Error('HTTP ' + res.status);
      render(await res.json());
      $('token-needed').hidden = true;
      $('conn').textContent = '';
    } catch (err) {
      $('conn').textContent = 'no answer from the server (' + (err && err.name === 'TimeoutError' ? 'timeout' : err.message) +
        '), retrying' + (last ? '; figures below are from ' + new Date(last.now * 1000).toLocaleTimeString('en-GB') : '');
    } finally {
      inFlight = false;
      timer = setTimeout(poll, document.hidden ? HIDDEN_POLL_MS : POLL_MS);
    }
  }

  // A tab brought back to the front refreshes at once rather than after the slow background interval.
  document.addEventListener('visibilitychange', () => {
    if (!document.hidden && !inFlight) poll();
  });

  function showUrls() {
    const base = (location.protocol === 'https:' ? 'wss://' : 'ws://') + location.host;
    $('u-lite').textContent = base + '/';
    $('u-full').textContent = base + '/full-stream';
    $('u-domains').textContent = base + '/domains-only';
  }

  $('filter').addEventListener('input', (e) => {
    filter = e.target.value.trim().toLowerCase();
    rebuild = true;
    queueRecent();
  });
  showUrls();
  poll();
})();
