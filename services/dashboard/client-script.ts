/**
 * The dashboard's browser script, served as /dashboard/app.js. Plain ES2017 without modules or a build step:
 * it only follows `GET /v1/stream` (read with fetch, so the key travels in a header, never in a URL) and
 * renders what the key's role may see. Text goes in through textContent, never as HTML.
 */
export const DASHBOARD_JS = String.raw`(function () {
  'use strict';
  var KEY = 'presence-hub.key';
  var ACTIVITY = {
    available: 'Available', ringing: 'Ringing', 'on-call': 'On a call', 'on-hold': 'Call on hold', 'in-meeting': 'In a meeting',
    presenting: 'Presenting', focus: 'Focus time', 'out-of-office': 'Out of office', dnd: 'Do not disturb', away: 'Away', break: 'On a break',
    'wrap-up': 'Wrap-up', 'off-work': 'Off work', offline: 'Offline', unknown: 'Unknown'
  };
  var AVAILABILITY = { available: 'Available', busy: 'Busy', dnd: 'Do not disturb', away: 'Away', offline: 'Offline', unknown: 'Unknown' };
  var ORDER = ['available', 'busy', 'dnd', 'away', 'offline', 'unknown'];
  var KIND = { desk: 'desk phone', softphone: 'softphone', mobile: 'mobile' };

  var el = function (id) { return document.getElementById(id); };
  var people = new Map();
  var lastEventId;
  var controller;
  /** The server's \`retry:\`, floored so a 0 cannot spin. */
  var retryBaseMs = 1000;
  var retryMs = retryBaseMs;
  var retryTimer;

  /** The server's clock minus this browser's, from the last snapshot: a browser set wrong shows ends and durations right. */
  var skewMs = 0;
  function now() { return Date.now() + skewMs; }

  // Built once: a render formats a few times per person, and building a formatter costs far more than using it.
  var TIME = new Intl.DateTimeFormat(undefined, { hour: '2-digit', minute: '2-digit' });
  var DAY_TIME = new Intl.DateTimeFormat(undefined, { weekday: 'short', day: 'numeric', month: 'short', hour: '2-digit', minute: '2-digit' });
  function clock(iso) {
    var d = new Date(iso);
    var today = new Date(now());
    return (d.toDateString() === today.toDateString() ? TIME : DAY_TIME).format(d);
  }
  function ago(iso) {
    var min = Math.floor((now() - new Date(iso).getTime()) / 60000);
    if (min < 1) return 'just now';
    if (min < 60) return min + ' min';
    var h = Math.floor(min / 60);
    if (h < 24) return h + ' h ' + (min % 60) + ' min';
    return Math.floor(h / 24) + ' d';
  }
  function node(tag, props, children) {
    var n = document.createElement(tag);
    Object.keys(props || {}).forEach(function (k) {
      if (k === 'text') n.textContent = props[k];
      else if (k === 'className') n.className = props[k];
      else n.setAttribute(k, props[k]);
    });
    (children || []).forEach(function (c) { if (c) n.appendChild(c); });
    return n;
  }
  /** A table's own word for a name, else the name: a tenant's reason called "constructor" is not Object's. */
  function label(table, name) { return Object.prototype.hasOwnProperty.call(table, name) ? table[name] : name; }
  function activityLabel(a) { return label(ACTIVITY, a); }
  var queuePanel = window.PresenceHubQueue({ el: el, node: node, clock: clock, now: now, key: function () { return sessionStorage.getItem(KEY); }, redraw: scheduleRender });

  function setConnection(text, state) {
    var c = el('connection');
    c.textContent = text;
    c.setAttribute('data-state', state);
  }

  function row(p) {
    var status = node('td', { className: 'status' }, [
      node('span', { className: 'dot', 'aria-hidden': 'true' }),
      node('span', { text: label(AVAILABILITY, p.availability) }),
      p.activity && p.activity !== p.availability ? node('span', { className: 'activity', text: ' · ' + activityLabel(p.activity) }) : null
    ]);
    // The person's own words with their status: text, never markup.
    if (p.note) status.append(node('br'), node('small', { className: 'note', text: '\u201c' + p.note + '\u201d' }));
    var paused = queuePanel.pauseNote(p.personId);
    if (paused) status.append(node('br'), node('small', { className: 'paused', text: paused }));
    var since = node('td', { className: 'since' }, p.since ? [node('time', { datetime: p.since, text: clock(p.since) }), node('small', { text: ' (' + ago(p.since) + ')' })] : []);
    var later = [];
    if (p.until) later.push(node('span', { text: 'until ' }), node('time', { datetime: p.until, text: clock(p.until) }));
    if (p.next && p.next.at === p.until) later.push(node('span', { className: 'next', text: ', then ' + activityLabel(p.next.activity).toLowerCase() }));
    else if (p.next) {
      if (later.length) later.push(node('br'));
      later.push(node('span', { className: 'next', text: activityLabel(p.next.activity) + ' at ' }), node('time', { datetime: p.next.at, text: clock(p.next.at) }));
    }
    var reach = node('td', { className: 'reach' });
    if (p.endpoints) reach.textContent = p.endpoints.length ? p.endpoints.map(function (e) { return label(KIND, e.kind); }).join(', ') : 'nothing reachable';
    if (p.routable === true) reach.appendChild(node('span', { className: 'callable', text: ' · can take a call' }));
    var why = node('td', { className: 'why' });
    if (p.explanation) {
      var list = node('ul', {}, p.explanation.map(function (x) {
        return node('li', { 'data-verdict': x.verdict, text: x.verdict + ': ' + x.source + ' (' + x.claim + ') ' + x.reason });
      }));
      why.appendChild(node('details', {}, [node('summary', { text: p.source ? 'decided by ' + p.source : 'why' }), list]));
    }
    return node('tr', { 'data-person': p.personId, 'data-availability': p.availability }, [
      node('th', { scope: 'row', text: p.name || p.personId }), status, queuePanel.cell(p.personId), since, node('td', { className: 'later' }, later), reach, why
    ]);
  }

  var renderPending = false;
  /** One render per frame, however many changes arrive in it. */
  function scheduleRender() {
    if (renderPending) return;
    renderPending = true;
    requestAnimationFrame(function () {
      renderPending = false;
      render();
    });
  }

  function render() {
    var open = new Set(Array.from(document.querySelectorAll('#people tr[data-person] details[open]')).map(function (d) { return d.closest('tr').getAttribute('data-person'); }));
    // The rows are rebuilt: a keyboard user's focus (a "why" toggle) moves to the same person's new row.
    var focused = document.activeElement && document.activeElement.closest('#people tr[data-person] summary');
    var focusedId = focused ? focused.closest('tr').getAttribute('data-person') : null;
    var filter = el('filter').value.trim().toLowerCase();
    var members = queuePanel.members();
    var list = Array.from(people.values()).filter(function (p) { return !members || members.has(p.personId); }).sort(function (a, b) { return (a.name || a.personId).localeCompare(b.name || b.personId); });
    var shown = list.filter(function (p) { return !filter || (p.name || p.personId).toLowerCase().indexOf(filter) >= 0; });
    var body = el('people').tBodies[0];
    body.replaceChildren.apply(body, shown.map(row));
    open.forEach(function (id) {
      var d = body.querySelector('tr[data-person="' + CSS.escape(id) + '"] details');
      if (d) d.open = true;
    });
    if (focusedId !== null) {
      var s = body.querySelector('tr[data-person="' + CSS.escape(focusedId) + '"] summary');
      if (s) s.focus();
    }
    el('people').classList.toggle('with-why', list.some(function (p) { return p.explanation; }));
    el('people').classList.toggle('with-queue', !!members);
    el('people').classList.toggle('with-reach', list.some(function (p) { return p.endpoints; }));
    var counts = {};
    list.forEach(function (p) { counts[p.availability] = (counts[p.availability] || 0) + 1; });
    var parts = [list.length + (list.length === 1 ? ' person' : ' people')];
    ORDER.forEach(function (a) { if (counts[a]) parts.push(counts[a] + ' ' + AVAILABILITY[a].toLowerCase()); });
    var callable = list.filter(function (p) { return p.routable === true; }).length;
    // Available people whose endpoints the key may not see (colleagues, sensitive people): counting them
    // out without a word reads as if they could not be rung.
    var unseen = list.filter(function (p) { return p.availability === 'available' && p.routable === undefined; }).length;
    if (list.some(function (p) { return p.routable !== undefined; })) parts.push(callable + ' can take a call now' + (unseen ? ', ' + unseen + ' more may' : ''));
    // A live region: rewriting the same text would announce it again on every change.
    if (el('summary').textContent !== parts.join(' · ')) el('summary').textContent = parts.join(' · ');
    el('empty').hidden = list.length > 0;
  }

  /** One event block, parsed as EventSource does (WHATWG HTML, server-sent events). */
  function handle(block) {
    var event = 'message';
    var data = [];
    var id;
    block.split('\n').forEach(function (line) {
      if (!line || line.charAt(0) === ':') return;
      var i = line.indexOf(':');
      var field = i < 0 ? line : line.slice(0, i);
      var value = i < 0 ? '' : line.slice(i + 1).replace(/^ /, '');
      if (field === 'event') event = value;
      else if (field === 'data') data.push(value);
      else if (field === 'id' && value.indexOf('\0') < 0) id = value;
      else if (field === 'retry' && /^\d+$/.test(value)) retryBaseMs = Math.max(1000, Number(value));
    });
    if (id !== undefined) lastEventId = id || undefined;
    if (!data.length) return;
    var payload = JSON.parse(data.join('\n'));
    // Backoff restarts only once events flow: not on a 200 (and a retry field) followed by a close.
    retryMs = retryBaseMs;
    if (event === 'snapshot') {
      if (payload.at) skewMs = Date.parse(payload.at) - Date.now();
      people.clear();
      payload.presence.forEach(function (p) { people.set(p.personId, p); });
      queuePanel.changed();
    } else if (event === 'presence') {
      var held = people.get(payload.personId);
      // Only older versions are stale: a directory edit re-renders the state at a version no lower, the same one within its millisecond.
      if (held && held.version > payload.version) return;
      people.set(payload.personId, payload);
      queuePanel.changed(payload.personId);
    } else if (event === 'removed') {
      people.delete(payload.personId);
      queuePanel.changed(payload.personId);
    } else return;
    scheduleRender();
  }

  function signedOut(message) {
    stop();
    sessionStorage.removeItem(KEY);
    people.clear();
    lastEventId = undefined;
    queuePanel.reset();
    el('board').hidden = true;
    el('sign-out').hidden = true;
    el('sign-in').hidden = false;
    el('sign-in-error').textContent = message || '';
    setConnection('Signed out', 'signed-out');
    el('key').focus();
  }

  function stop() {
    if (controller) controller.abort();
    controller = undefined;
    clearTimeout(retryTimer);
  }

  function retry(reason, atLeastMs) {
    var wait = Math.max(retryMs, atLeastMs || 0);
    retryMs = Math.min(retryMs * 2, 30000);
    setConnection('Reconnecting in ' + Math.round(wait / 1000) + ' s (' + reason + ')', 'reconnecting');
    retryTimer = setTimeout(connect, wait);
  }

  function connect() {
    var key = sessionStorage.getItem(KEY);
    if (!key) return signedOut();
    stop();
    var mine = (controller = new AbortController());
    var team = el('team').value;
    var headers = { Authorization: 'Bearer ' + key, Accept: 'text/event-stream' };
    if (lastEventId) headers['Last-Event-ID'] = lastEventId;
    setConnection('Connecting…', 'connecting');
    fetch('/v1/stream' + (team ? '?team=' + encodeURIComponent(team) : ''), { headers: headers, signal: mine.signal, cache: 'no-store' })
      .then(function (res) {
        if (mine.signal.aborted) return;
        if (res.status === 401 || res.status === 403) {
          return res.json().then(function (b) { signedOut(b && b.error ? b.error.message + ' (' + b.error.code + ')' : 'The key was refused.'); }, function () { if (!mine.signal.aborted) signedOut('The key was refused.'); });
        }
        // Over the key's stream limit: not before the server's Retry-After (seconds).
        if (res.status === 429) return retry('too many connections', (Number(res.headers.get('Retry-After')) || 0) * 1000);
        if (!res.ok || !res.body) throw new Error('HTTP ' + res.status);
        setConnection('Live', 'live');
        var reader = res.body.getReader();
        var decoder = new TextDecoder();
        var buffer = '';
        var pump = function () {
          return reader.read().then(function (r) {
            // A read that completed as another team's stream took over must not reach the board.
            if (mine.signal.aborted) return;
            if (r.done) throw new Error('the stream ended');
            // A CR at a chunk's end may be half of a CRLF: it waits for the next chunk.
            buffer = (buffer + decoder.decode(r.value, { stream: true })).replace(/\r\n|\r(?!$)/g, '\n');
            var end;
            while ((end = buffer.indexOf('\n\n')) >= 0) {
              handle(buffer.slice(0, end));
              buffer = buffer.slice(end + 2);
            }
            return pump();
          });
        };
        return pump();
      })
      .catch(function (err) {
        if (mine.signal.aborted) return;
        retry(err && err.message ? err.message : 'connection lost');
      });
  }

  function loadTeams() {
    var key = sessionStorage.getItem(KEY);
    fetch('/v1/people', { headers: { Authorization: 'Bearer ' + key }, cache: 'no-store' })
      .then(function (res) { return res.ok ? res.json() : { people: [] }; })
      .then(function (body) {
        // Signed out (or in with another key) meanwhile: these teams are not the board's.
        if (sessionStorage.getItem(KEY) !== key) return;
        var teams = new Set();
        body.people.forEach(function (p) { (p.teams || []).forEach(function (t) { teams.add(t); }); });
        var select = el('team');
        var chosen = select.value;
        select.replaceChildren(node('option', { value: '', text: 'Everyone' }));
        Array.from(teams).sort().forEach(function (t) { select.appendChild(node('option', { value: t, text: t })); });
        select.value = chosen;
        el('team-picker').hidden = teams.size === 0;
      })
      .catch(function () { el('team-picker').hidden = true; });
  }

  function start() {
    el('sign-in').hidden = true;
    el('board').hidden = false;
    el('sign-out').hidden = false;
    // Where the sign-in form was: a keyboard or screen-reader user lands on the board, not on nothing.
    el('board-title').focus();
    loadTeams();
    queuePanel.load();
    connect();
  }

  document.addEventListener('DOMContentLoaded', function () {
    el('sign-in').addEventListener('submit', function (e) {
      e.preventDefault();
      var key = el('key').value.trim();
      if (!key) return;
      sessionStorage.setItem(KEY, key);
      el('key').value = '';
      el('sign-in-error').textContent = '';
      start();
    });
    el('sign-out').addEventListener('click', function () { signedOut(); });
    el('team').addEventListener('change', function () {
      // Another filter is another stream: start from its snapshot, not from the last id.
      lastEventId = undefined;
      people.clear();
      render();
      connect();
    });
    el('queue').addEventListener('change', queuePanel.choose);
    el('filter').addEventListener('input', render);
    // "Since" durations move on without events; whose turn it is in a queue moves with calls.
    setInterval(function () {
      if (people.size) render();
      queuePanel.refresh();
    }, 30000);
    if (sessionStorage.getItem(KEY)) start();
    else signedOut();
  });
})();
`;
