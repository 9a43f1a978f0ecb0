/**
 * The dashboard's queue panel, served as /dashboard/queue.js and used by app.js: for the hunt group or
 * queue a supervisor picks, who a call would ring right now and why each other member is left out,
 * from a dry run of `POST /v1/route` (it never moves strategy state). Presence and routing in one view:
 * "in the queue? no: in a meeting until 15:00". A supervisor can pause someone from the queue and let
 * them back (`/v1/people/{id}/queue-pause`). Plain ES2017, text through textContent only.
 */
export const QUEUE_PANEL_JS = String.raw`(function () {
  'use strict';
  var STRATEGY = {
    simultaneous: 'rings everyone at once', sequential: 'one after another', 'round-robin': 'round robin',
    'longest-idle': 'longest idle first', 'fewest-calls': 'fewest calls first'
  };
  /** A member's presence change moves the answer; a burst of them asks once, and a steady stream every SETTLE_MS. */
  var SETTLE_MS = 250;
  var DAY_MS = 86400000;

  function seconds(s) { return s < 90 ? s + ' s' : Math.round(s / 60) + ' min'; }

  /**
   * h: { el, node, clock, key(): the signed-in key, redraw(): re-render the board }.
   * Returns what the board needs: which people are members, each member's cell, and hooks to call.
   */
  window.PresenceHubQueue = function (h) {
    var current;
    /** The groups as listed, by id: members come from here, so a closed queue still shows its people. */
    var groups = new Map();
    var listed = '';
    /** Who is paused from group calls now, by person (what the key may see of it). */
    var pauses = new Map();
    /** The key may list groups (a member key may not: then nothing is asked again). */
    var mayList = false;
    var asked = 0;
    var settleTimer;
    var scheduleTimer;

    function fallbackText(f) {
      var text;
      if (f.type === 'queue') text = 'wait in the queue (up to ' + seconds(f.maxWaitSeconds) + (f.predictedWaitSeconds !== undefined ? ', about ' + seconds(f.predictedWaitSeconds) + ' expected' : '') + ')';
      else if (f.type === 'overflow') {
        var names = f.ring.map(function (r) { return r.name; }).filter(function (n, i, all) { return all.indexOf(n) === i; });
        text = 'overflow to ' + f.name + (names.length ? ' (' + names.join(', ') + ')' : '');
      } else if (f.type === 'voicemail') text = 'voicemail ' + f.box;
      else if (f.type === 'forward') text = 'forward to ' + (f.label || f.number || f.uri);
      else if (f.type === 'hangup') text = 'hang up: ' + f.message;
      else text = f.type;
      return f.skipped ? text + ' (skipped: ' + f.skipped + ')' : text;
    }

    /** Pauses the person from this queue, or lets them back into it; the server keeps the pause's other groups, end and reason. */
    function changePause(personId, groupId, pausing) {
      var url = '/v1/people/' + encodeURIComponent(personId) + '/queue-pause/groups/' + encodeURIComponent(groupId);
      return fetch(url, { method: pausing ? 'PUT' : 'DELETE', headers: { Authorization: 'Bearer ' + h.key() }, cache: 'no-store' })
        .then(function (res) {
          if (res.ok) return undefined;
          return res.json().then(function (b) {
            throw new Error(b && b.error ? b.error.message + ' (' + b.error.code + ')' : 'HTTP ' + res.status);
          }, function () { throw new Error('HTTP ' + res.status); });
        });
    }

    function loadPauses() {
      var key = h.key();
      return fetch('/v1/queue-pauses', { headers: { Authorization: 'Bearer ' + key }, cache: 'no-store' })
        .then(function (res) { return res.ok ? res.json() : { pauses: [] }; })
        .then(function (body) {
          if (h.key() !== key) return;
          pauses = new Map(body.pauses.map(function (p) { return [p.personId, p]; }));
          h.redraw();
        })
        .catch(function () { /* the next refresh tries again */ });
    }

    h.el('people').addEventListener('click', function (e) {
      var button = e.target.closest && e.target.closest('td.queue button');
      if (!button || !current) return;
      button.disabled = true;
      changePause(button.getAttribute('data-person'), current.id, button.getAttribute('data-action') === 'pause').then(
        function () { h.el('queue-error').textContent = ''; ask(); loadPauses(); },
        function (err) { h.el('queue-error').textContent = 'Not changed: ' + err.message; button.disabled = false; }
      );
    });

    function show() {
      var panel = h.el('queue-panel');
      panel.hidden = !current;
      if (!current) return;
      var d = current.decision;
      if (!d) {
        h.el('queue-title').textContent = current.name;
        h.el('queue-state').textContent = current.error ? 'Cannot show this queue: ' + current.error : 'Asking…';
        h.el('queue-ring').replaceChildren();
        h.el('queue-then').textContent = '';
        return;
      }
      // The server words reasons and closures in the group's zone ("DND until 02:17"), the board in the
      // browser's: say so when their clocks read differently, or a row shows two times for one end.
      var wall = function (zone) { return new Intl.DateTimeFormat('en-GB', { timeZone: zone, day: 'numeric', hour: 'numeric', minute: 'numeric' }).format(h.now()); };
      var zone = d.target.timeZone && wall(d.target.timeZone) !== wall(undefined) ? ' · reasons in ' + d.target.timeZone + ' time' : '';
      h.el('queue-title').textContent = d.target.name + ' · ' + (STRATEGY[d.strategy] || d.strategy) + zone;
      // The server words a closure in the group's zone ("closed: Christmas Day (holiday); opens Mon 08:00").
      var state = !d.open ? (d.closedReason ? d.closedReason.charAt(0).toUpperCase() + d.closedReason.slice(1) : 'Closed') : d.scheduleChangesAt ? 'Open until ' + h.clock(d.scheduleChangesAt) : 'Open';
      var members = current.members.size;
      if (d.open) state += ' · ' + current.ringing + ' of ' + members + (members === 1 ? ' member' : ' members') + ' would ring now';
      h.el('queue-state').textContent = state;
      var steps = [];
      d.ring.forEach(function (r) {
        var last = steps[steps.length - 1];
        if (last && last.step === r.step) last.names.push(r.name);
        else steps.push({ step: r.step, names: [r.name], timeout: r.ringTimeoutSeconds });
      });
      h.el('queue-ring').replaceChildren.apply(h.el('queue-ring'), steps.map(function (s) {
        return h.node('li', { text: s.names.join(', ') + ' (' + seconds(s.timeout) + ')' });
      }));
      var then = d.fallback.map(fallbackText).join(' → ');
      var lead = d.status === 'ringing' ? 'If nobody answers: ' : d.open ? 'Nobody can take a call now. The caller gets: ' : 'The caller gets: ';
      h.el('queue-then').textContent = lead + (then || 'nothing set here, so the PBX decides');
    }

    /** The board changes with the answer: members only, and a cell per member. */
    function settle(decision) {
      var verdicts = new Map();
      var stepOrder = [];
      decision.ring.forEach(function (r) { if (stepOrder.indexOf(r.step) < 0) stepOrder.push(r.step); });
      decision.ring.forEach(function (r) {
        if (!verdicts.has(r.personId)) verdicts.set(r.personId, { rings: stepOrder.indexOf(r.step) + 1, of: stepOrder.length });
      });
      decision.leftOut.forEach(function (l) { if (!verdicts.has(l.personId)) verdicts.set(l.personId, { code: l.code, reason: l.reason }); });
      current.decision = decision;
      current.verdicts = verdicts;
      current.names = new Map(decision.ring.concat(decision.leftOut).map(function (x) { return [x.personId, x.name || x.personId]; }));
      current.ringing = new Set(decision.ring.map(function (r) { return r.personId; })).size;
      current.error = undefined;
      clearTimeout(scheduleTimer);
      // Opening and closing times and the end of a pause move the answer without any presence change.
      var now = h.now();
      var next = [decision.scheduleChangesAt].concat(decision.leftOut.map(function (l) { return l.until; }))
        .filter(Boolean).map(Date.parse).filter(function (t) { return t > now; });
      var wait = next.length ? Math.min.apply(null, next) - now : -1;
      if (wait >= 0 && wait < DAY_MS) scheduleTimer = setTimeout(ask, wait + 1000);
    }

    function ask() {
      clearTimeout(settleTimer);
      settleTimer = undefined;
      if (!current) return;
      var key = h.key();
      var mine = ++asked;
      var chosen = current;
      fetch('/v1/route', {
        method: 'POST',
        headers: { Authorization: 'Bearer ' + key, 'Content-Type': 'application/json' },
        body: JSON.stringify({ group: chosen.id, dryRun: true }),
        cache: 'no-store'
      })
        .then(function (res) { return res.json().then(function (body) { return { ok: res.ok, body: body }; }); })
        .then(function (r) {
          // Another queue, another key or a newer answer took over meanwhile.
          if (mine !== asked || chosen !== current || h.key() !== key) return;
          if (!r.ok) return fail(chosen, r.body && r.body.error ? r.body.error.message + ' (' + r.body.error.code + ')' : 'refused');
          settle(r.body);
          show();
          h.redraw();
        })
        .catch(function () {
          if (mine !== asked || chosen !== current || h.key() !== key) return;
          fail(chosen, 'no answer');
        });
    }

    /** The last answer is no longer known to hold: it must not stay up as if it did. */
    function fail(chosen, message) {
      chosen.error = message;
      chosen.decision = undefined;
      chosen.verdicts = undefined;
      clearTimeout(scheduleTimer);
      show();
      h.redraw();
    }

    function choose(id) {
      clearTimeout(scheduleTimer);
      var g = groups.get(id);
      current = g ? { id: id, name: g.name, members: new Set(g.members.map(function (m) { return m.personId; })) } : undefined;
      show();
      h.redraw();
      ask();
    }

    function load() {
      var key = h.key();
      fetch('/v1/groups', { headers: { Authorization: 'Bearer ' + key }, cache: 'no-store' })
        .then(function (res) { return res.ok ? res.json() : { groups: [], refused: true }; })
        .then(function (body) {
          if (h.key() !== key) return;
          mayList = !body.refused;
          if (mayList) loadPauses();
          groups = new Map(body.groups.map(function (g) { return [g.id, g]; }));
          if (current && groups.has(current.id)) current.members = new Set(groups.get(current.id).members.map(function (m) { return m.personId; }));
          h.el('queue-picker').hidden = body.groups.length === 0;
          var sorted = body.groups.slice().sort(function (a, b) { return a.name.localeCompare(b.name); });
          var options = JSON.stringify(sorted.map(function (g) { return [g.id, g.name, g.extension]; }));
          // Rebuilt only when the list changed: a picker someone has open is left alone.
          if (options === listed) return;
          listed = options;
          var select = h.el('queue');
          var chosen = select.value;
          select.replaceChildren(h.node('option', { value: '', text: 'None' }));
          sorted.forEach(function (g) { select.appendChild(h.node('option', { value: g.id, text: g.name + (g.extension ? ' (' + g.extension + ')' : '') })); });
          select.value = chosen;
          if (select.value !== chosen) choose('');
        })
        .catch(function () { h.el('queue-picker').hidden = true; });
    }

    return {
      load: load,
      choose: function () { choose(h.el('queue').value); },
      reset: function () {
        current = undefined;
        groups = new Map();
        pauses = new Map();
        listed = '';
        mayList = false;
        clearTimeout(settleTimer);
        settleTimer = undefined;
        clearTimeout(scheduleTimer);
        h.el('queue').value = '';
        show();
      },
      /** Someone's presence changed (undefined: everyone's, after a snapshot). */
      changed: function (personId) {
        if (!current || (personId !== undefined && !current.members.has(personId))) return;
        // The first change of a burst starts the wait and the rest join it: restarting it on each change
        // would never ask while a busy queue's members change more often than SETTLE_MS.
        if (settleTimer === undefined) settleTimer = setTimeout(ask, SETTLE_MS);
      },
      /** Strategy state (whose turn it is, offers in flight) and the groups themselves move without presence changes. */
      refresh: function () {
        if (mayList) load();
        if (current) ask();
      },
      /** The person's pause from group calls in words, or '' (shown on the board whichever queue is picked). */
      pauseNote: function (personId) {
        var p = pauses.get(personId);
        if (!p || (p.until && Date.parse(p.until) <= h.now())) return '';
        var named = function (ids) { return ids.map(function (id) { return groups.has(id) ? groups.get(id).name : id; }).join(', '); };
        var where = p.groups ? named(p.groups) : 'all groups' + (p.exceptGroups ? ' but ' + named(p.exceptGroups) : '');
        return 'Paused from ' + where + (p.until ? ' until ' + h.clock(p.until) : '') + (p.reason ? ' (' + p.reason + ')' : '');
      },
      /** undefined while no queue is shown: then everyone is on the board. */
      members: function () { return current && current.members; },
      cell: function (personId) {
        var td = h.node('td', { className: 'queue' });
        var v = current && current.verdicts && current.verdicts.get(personId);
        if (!v) {
          if (current && current.decision && !current.decision.open) td.appendChild(h.node('span', { className: 'verdict', text: 'Queue closed' }));
          return td;
        }
        td.setAttribute('data-verdict', v.rings ? 'rings' : v.code);
        var text = v.rings ? (v.of > 1 ? 'Would ring · step ' + v.rings + ' of ' + v.of : 'Would ring') : 'Left out: ' + v.reason;
        td.appendChild(h.node('span', { className: 'verdict', text: text }));
        // Keys that may list groups (supervisors, admins) may pause anyone.
        if (mayList) {
          var resume = v.code === 'paused';
          var name = current.names.get(personId) || personId;
          td.appendChild(h.node('button', {
            type: 'button', 'data-person': personId, 'data-action': resume ? 'resume' : 'pause', text: resume ? 'Let back' : 'Pause',
            'aria-label': (resume ? 'Let ' + name + ' back into ' : 'Pause ' + name + ' from ') + current.decision.target.name
          }));
        }
        return td;
      }
    };
  };
})();
`;
