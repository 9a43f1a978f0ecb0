import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, beforeEach, expect, it } from 'vitest';
import { launchChromium } from '../support/browser.js';
import { describeWith } from '../support/components.js';
import { ADMIN_KEY, seedAlice, startTestHub, type PbxKey, type TestHub } from '../support/hub.js';

/**
 * The supervisor dashboard in a real browser (Debian chromium through playwright-core): sign in with a
 * key, the live board follows the stream, each role sees its level of detail, and nothing breaks the CSP.
 * The hub runs on a fake clock (Monday 2 March 2026, 09:30 UTC) and the browser's clock is pinned to it,
 * in Berlin (10:30 local).
 */
describeWith(['chromium'], 'the supervisor dashboard in chromium', () => {
  let h: TestHub;
  let base: string;
  let pbx: PbxKey;
  let supervisor: string;
  let member: string;
  let browser: Browser;
  let context: BrowserContext;
  let page: Page;
  /** What the browser reported: CSP violations, console errors, failed requests. */
  let problems: string[];

  beforeAll(async () => {
    h = await startTestHub();
    pbx = await seedAlice(h);
    await h.put('/v1/people/bob', { name: '<b>Bob</b> & co', teams: ['sales'] }).expect(201);
    await h.put('/v1/people/bob/devices/bob-desk', { kind: 'desk' }).expect(201);
    await h.put('/v1/people/carol', { name: 'Carol', teams: ['support'], sensitive: true }).expect(201);
    await h.put('/v1/people/carol/devices/carol-desk', { kind: 'desk' }).expect(201);
    supervisor = (await h.post('/v1/keys', { name: 's', role: 'supervisor' }).expect(201)).body.secret as string;
    member = (await h.post('/v1/keys', { name: 'm', role: 'member', personId: 'bob' }).expect(201)).body.secret as string;
    const at = h.clock.now() - 60_000;
    await h.pbx(['alice-desk', 'bob-desk', 'carol-desk'].map((device) => ({ type: 'registered', device, at })), pbx).expect(200);
    base = await h.listen();
    browser = await launchChromium();
  });
  afterAll(async () => {
    await browser?.close();
    await h?.stop();
  });
  beforeEach(async () => {
    context = await browser.newContext({ locale: 'en-GB', timezoneId: 'Europe/Berlin' });
    page = await context.newPage();
    page.setDefaultTimeout(5000);
    await page.clock.setFixedTime(new Date(h.clock.now()));
    problems = [];
    page.on('console', (m) => {
      if (m.type() === 'error' || /Content Security Policy/i.test(m.text())) problems.push(m.text());
    });
    page.on('pageerror', (e) => problems.push(e.message));
  });
  afterEach(async () => {
    await context?.close();
  });

  const rowOf = (personId: string) => page.locator(`tr[data-person="${personId}"]`);
  async function signIn(key: string): Promise<void> {
    await page.goto(`${base}/dashboard`);
    await page.getByLabel('API key').fill(key);
    await page.getByRole('button', { name: 'Show presence' }).click();
    await expect.poll(() => page.locator('#connection').getAttribute('data-state')).toBe('live');
  }

  it('a supervisor sees everyone live: a call, a status with its end, who can take a call', async () => {
    await signIn(supervisor);
    // Focus moves from the sign-in form to the board's heading.
    expect(await page.locator('#board-title').evaluate((e) => e === e.ownerDocument.activeElement)).toBe(true);
    await expect.poll(() => page.locator('tbody tr').count()).toBe(3);
    expect(await rowOf('alice').getAttribute('data-availability')).toBe('available');
    // Carol is sensitive: a supervisor is not told whether she can be rung, so she is counted apart.
    expect(await page.locator('#summary').textContent()).toBe('3 people · 3 available · 2 can take a call now, 1 more may');
    // A name is text, never markup.
    expect(await rowOf('bob').locator('th').textContent()).toBe('<b>Bob</b> & co');

    await h.pbx([{ type: 'answered', device: 'alice-desk', at: h.clock.now(), callId: 'c1' }], pbx).expect(200);
    await expect.poll(() => rowOf('alice').getAttribute('data-availability')).toBe('busy');
    expect(await rowOf('alice').locator('.status').textContent()).toBe('Busy · On a call');
    expect(await rowOf('alice').locator('.since').textContent()).toBe('10:30 (just now)');
    expect(await rowOf('alice').locator('.reach').textContent()).toBe('desk phone');

    await h.put('/v1/people/bob/status', { activity: 'dnd', until: '2026-03-02T11:15:00Z', note: 'budget <b>review</b>' }).expect(200);
    await expect.poll(() => rowOf('bob').getAttribute('data-availability')).toBe('dnd');
    expect(await rowOf('bob').locator('.later').textContent()).toBe('until 12:15, then available');
    expect(await rowOf('bob').locator('.note').textContent()).toBe('\u201cbudget <b>review</b>\u201d');
    expect(await page.locator('#summary').textContent()).toBe('3 people · 1 available · 1 busy · 1 do not disturb · 0 can take a call now, 1 more may');
    // Carol is sensitive: a supervisor sees her availability, not what she is doing.
    expect(await rowOf('carol').locator('.status').textContent()).toBe('Available');
    // No "why" for a supervisor.
    expect(await page.locator('th.why').isVisible()).toBe(false);

    // The scheduler ends Bob's DND at its until: the board follows without a reload.
    await h.clock.advanceTo(Date.parse('2026-03-02T11:15:00Z'));
    await expect.poll(() => rowOf('bob').getAttribute('data-availability')).toBe('available');
    await h.pbx([{ type: 'hangup', device: 'alice-desk', at: h.clock.now(), callId: 'c1' }], pbx).expect(200);
    await expect.poll(() => rowOf('alice').getAttribute('data-availability')).toBe('available');
    expect(problems).toEqual([]);
  });

  it('filters by team (a fresh stream) and by name', async () => {
    await signIn(supervisor);
    await expect.poll(() => page.locator('tbody tr').count()).toBe(3);
    await page.getByLabel('Team').selectOption('support');
    await expect.poll(() => page.locator('tbody tr[data-person]').evaluateAll((rows) => rows.map((r) => r.getAttribute('data-person')))).toEqual(['alice', 'carol']);
    await page.getByLabel('Find').fill('car');
    await expect.poll(() => page.locator('tbody tr').count()).toBe(1);
    expect(await page.locator('#summary').textContent()).toMatch(/^2 people/);
    expect(problems).toEqual([]);
  });

  it('follows a team edit, a rename and the sensitive flag at once, with no state change', async () => {
    const alice = { name: 'Alice', extension: '1001', sipUri: 'sip:alice@example.test', teams: ['support'] };
    const shown = () => page.locator('tbody tr[data-person]').evaluateAll((rows) => rows.map((r) => r.getAttribute('data-person')).sort());
    await signIn(supervisor);
    await page.getByLabel('Team').selectOption('support');
    await expect.poll(shown).toEqual(['alice', 'carol']);
    expect(await rowOf('alice').locator('.reach').textContent()).toBe('desk phone · can take a call');

    await h.put('/v1/people/bob', { name: '<b>Bob</b> & co', teams: ['sales', 'support'] }).expect(200);
    await expect.poll(shown).toEqual(['alice', 'bob', 'carol']);
    // Within the millisecond of the state the row shows: the same version, which the board takes all the same.
    await h.put('/v1/people/alice', { ...alice, name: 'Alice Smith', sensitive: true }).expect(200);
    await expect.poll(() => rowOf('alice').locator('th').textContent()).toBe('Alice Smith');
    expect(await rowOf('alice').locator('.reach').textContent()).toBe('');
    await h.put('/v1/people/bob', { name: '<b>Bob</b> & co', teams: ['sales'] }).expect(200);
    await expect.poll(shown).toEqual(['alice', 'carol']);

    await h.put('/v1/people/alice', alice).expect(200);
    await expect.poll(() => rowOf('alice').locator('.reach').textContent()).toBe('desk phone · can take a call');
    expect(problems).toEqual([]);
  });

  it('an admin also sees why; a member sees only who is available', async () => {
    await signIn(ADMIN_KEY);
    await expect.poll(() => page.locator('tbody tr').count()).toBe(3);
    const why = rowOf('alice').locator('details');
    await h.clock.advance(1000);
    await h.pbx([{ type: 'ringing', device: 'alice-desk', at: h.clock.now(), callId: 'c9' }], pbx).expect(200);
    await expect.poll(() => why.locator('summary').textContent()).toBe('decided by pbx');
    await why.locator('summary').click();
    expect(await why.locator('li[data-verdict="won"]').textContent()).toMatch(/^won: pbx \(call\)/);
    // An open explanation stays open when the board changes, and keyboard focus stays on its toggle.
    await h.clock.advance(1000);
    await h.pbx([{ type: 'hangup', device: 'alice-desk', at: h.clock.now(), callId: 'c9' }], pbx).expect(200);
    await expect.poll(() => rowOf('alice').getAttribute('data-availability')).toBe('available');
    expect(await why.getAttribute('open')).not.toBeNull();
    expect(await why.locator('summary').evaluate((summary) => summary === summary.ownerDocument.activeElement)).toBe(true);
    await page.getByRole('button', { name: 'Sign out' }).click();
    expect(await page.getByLabel('API key').isVisible()).toBe(true);

    await signIn(member);
    await expect.poll(() => page.locator('tbody tr').count()).toBe(3);
    // Bob's own row has everything; colleagues only their availability.
    expect(await rowOf('alice').locator('.status').textContent()).toBe('Available');
    expect(await rowOf('alice').locator('.later').textContent()).toBe('');
    // Bob sees only his own endpoints: his available colleagues are not counted as unable to take a call.
    expect(await page.locator('#summary').textContent()).toBe('3 people · 3 available · 1 can take a call now, 2 more may');
    expect(await rowOf('bob').locator('details').count()).toBe(1);
    expect(await rowOf('alice').locator('details').count()).toBe(0);
    // A member may not list the directory, so there is no team picker (a refused request).
    expect(await page.locator('#team-picker').isVisible()).toBe(false);
    // Nor list the groups or ask the routing API: no queue picker.
    expect(await page.locator('#queue-picker').isVisible()).toBe(false);
    expect(problems.filter((p) => !/403/.test(p))).toEqual([]);
  });

  it('reconnects after the connection drops and catches up from its last event id', async () => {
    const streams: Array<string | undefined> = [];
    page.on('request', (r) => {
      if (new URL(r.url()).pathname === '/v1/stream') streams.push(r.headers()['last-event-id']);
    });
    await signIn(supervisor);
    await expect.poll(() => page.locator('tbody tr').count()).toBe(3);
    await h.put('/v1/people/bob/status', { activity: 'away' }).expect(200);
    await expect.poll(() => rowOf('bob').getAttribute('data-availability')).toBe('away');
    h.dropConnections();
    await expect.poll(() => page.locator('#connection').getAttribute('data-state')).toBe('reconnecting');
    await h.clock.advance(1000);
    await h.pbx([{ type: 'answered', device: 'alice-desk', at: h.clock.now(), callId: 'c20' }], pbx).expect(200);
    // The stream's `retry: 2000` is the first wait.
    await expect.poll(() => rowOf('alice').getAttribute('data-availability'), { timeout: 10_000 }).toBe('busy');
    expect(await page.locator('#connection').getAttribute('data-state')).toBe('live');
    expect(streams).toHaveLength(2);
    expect(streams[0]).toBeUndefined();
    expect(streams[1]).toMatch(/^\S+-[0-9a-f]{32}$/);
    await h.clock.advance(1000);
    await h.pbx([{ type: 'hangup', device: 'alice-desk', at: h.clock.now(), callId: 'c20' }], pbx).expect(200);
    await expect.poll(() => rowOf('alice').getAttribute('data-availability')).toBe('available');
    await h.del('/v1/people/bob/status').expect(200);
    expect(problems.filter((p) => !/ERR_|network/i.test(p))).toEqual([]);
  });

  it("a directory answer that arrives after signing out does not fill the next key's team picker", async () => {
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    let held = 0;
    await page.route('**/v1/people', async (route) => {
      if (held++ === 0) await gate;
      await route.continue();
    });
    await signIn(ADMIN_KEY);
    await page.getByRole('button', { name: 'Sign out' }).click();
    // In the same document (a navigation would cancel the held request).
    await page.getByLabel('API key').fill(member);
    await page.getByRole('button', { name: 'Show presence' }).click();
    await expect.poll(() => page.locator('#connection').getAttribute('data-state')).toBe('live');
    const late = page.waitForResponse((r) => new URL(r.url()).pathname === '/v1/people' && r.status() === 200);
    release();
    await late;
    // Let the page's handlers of that answer run (a pass here can only be early, never a false failure).
    await page.evaluate(() => new Promise((resolve) => setTimeout(resolve, 100)));
    expect(await page.locator('#team-picker').isVisible()).toBe(false);
    expect(await page.locator('#team option').count()).toBe(1);
  });

  it('reads the stream as EventSource would: CRLF split across chunks, multi-line data, comments, retry, stale versions, removals', async () => {
    const ann = (availability: string, version: number) => JSON.stringify({ personId: 'ann', name: 'Ann', availability, version });
    // Each string is one chunk as the network delivers it; the stream then ends.
    const chunks = [
      'retry: 60000\r\n\r\n: a comment\r\n\r',
      `\nevent: snapshot\r\ndata: {"presence": [\r\ndata: ${ann('available', 5)},\r\ndata: ${JSON.stringify({ personId: 'ben', name: 'Ben', availability: 'away', version: 1 })}]}\r\n\r\n`,
      // Older than the snapshot: must not overwrite it.
      `id: t-1\r\nevent: presence\r\ndata: ${ann('busy', 4)}\r\n\r\n`,
      'id: t-2\r\nevent: removed\r',
      '\ndata: {"personId":"ben"}\r\n\r\n',
      // A tenant's own reason may be any word, "constructor" too: shown as it is.
      `id: t-3\nevent: presence\ndata: ${JSON.stringify({ personId: 'cy', name: 'Cy', availability: 'dnd', activity: 'constructor', version: 2 })}\n\n`,
    ];
    await page.addInitScript((parts: string[]) => {
      const real = globalThis.fetch.bind(globalThis);
      globalThis.fetch = (input: Parameters<typeof fetch>[0], init?: RequestInit) => {
        if (!String(input).startsWith('/v1/stream')) return real(input, init);
        const body = new ReadableStream<Uint8Array>({
          start(c) {
            for (const part of parts) c.enqueue(new TextEncoder().encode(part));
            c.close();
          },
        });
        return Promise.resolve(new Response(body, { status: 200, headers: { 'Content-Type': 'text/event-stream' } }));
      };
    }, chunks);
    await page.goto(`${base}/dashboard`);
    await page.getByLabel('API key').fill(supervisor);
    await page.getByRole('button', { name: 'Show presence' }).click();
    // The end of the stream comes after every event in it; the wait is the stream's `retry:`.
    await expect.poll(() => page.locator('#connection').textContent()).toBe('Reconnecting in 60 s (the stream ended)');
    await expect.poll(() => page.locator('tbody tr[data-person]').evaluateAll((rows) => rows.map((r) => r.getAttribute('data-person')))).toEqual(['ann', 'cy']);
    expect(await rowOf('ann').getAttribute('data-availability')).toBe('available');
    expect(await rowOf('cy').locator('.status').textContent()).toBe('Do not disturb · constructor');
    expect(problems).toEqual([]);
  });

  it('backs off while the stream answers but ends before any event', async () => {
    await page.addInitScript(() => {
      const real = globalThis.fetch.bind(globalThis);
      globalThis.fetch = (input: Parameters<typeof fetch>[0], init?: RequestInit) => {
        if (!String(input).startsWith('/v1/stream')) return real(input, init);
        const body = new ReadableStream<Uint8Array>({
          start(c) {
            c.enqueue(new TextEncoder().encode('retry: 1000\n\n: keepalive\n\n'));
            c.close();
          },
        });
        return Promise.resolve(new Response(body, { status: 200, headers: { 'Content-Type': 'text/event-stream' } }));
      };
    });
    await page.goto(`${base}/dashboard`);
    await page.getByLabel('API key').fill(supervisor);
    await page.getByRole('button', { name: 'Show presence' }).click();
    await expect.poll(() => page.locator('#connection').textContent(), { timeout: 10_000 }).toBe('Reconnecting in 2 s (the stream ended)');
  });

  it('shows who a call to a queue would ring now and why each other member is left out, and follows presence', async () => {
    const ids = () => page.locator('tbody tr[data-person]').evaluateAll((rows) => rows.map((r) => r.getAttribute('data-person')).sort());
    const cell = (personId: string) => rowOf(personId).locator('td.queue');
    const verdict = (personId: string) => cell(personId).locator('.verdict');
    await h
      .put('/v1/groups/helpdesk', {
        name: 'Helpdesk',
        extension: '2000',
        timeZone: 'Europe/Berlin',
        strategy: 'sequential',
        members: [{ personId: 'alice' }, { personId: 'bob' }],
        fallback: [{ type: 'queue', maxWaitSeconds: 120 }, { type: 'voicemail', box: '2000' }],
      })
      .expect(201);
    await h
      .put('/v1/groups/evening', {
        name: 'Evening line',
        timeZone: 'Europe/Berlin',
        members: [{ personId: 'carol' }, { personId: 'bob' }],
        schedule: { weekly: { mon: [['20:00', '23:00']] } },
        afterHours: [{ type: 'forward', number: '+4930999', label: 'duty phone' }],
      })
      .expect(201);
    const until = new Date(Math.ceil(h.clock.now() / 60_000) * 60_000 + 45 * 60_000).toISOString();
    await h.put('/v1/people/bob/status', { activity: 'dnd', until }).expect(200);
    // A contact to ring Bob on once he is free.
    await h.pbx([{ type: 'registered', device: 'bob-desk', contact: 'sip:bob@192.0.2.11', expiresSec: 3600, at: h.clock.now() }], pbx).expect(200);
    const before = await h.http.get('/metrics').expect(200);
    await signIn(supervisor);
    await expect.poll(() => page.locator('tbody tr').count()).toBe(3);
    // Before a queue is picked: no queue column, everyone on the board.
    expect(await page.locator('th.queue').isVisible()).toBe(false);
    await page.getByLabel('Queue').selectOption({ label: 'Helpdesk (2000)' });
    await expect.poll(() => verdict('bob').textContent()).toMatch(/^Left out: DND until \d\d:\d\d \(manual\)$/);
    // Members only: Carol is not in the Helpdesk.
    expect(await ids()).toEqual(['alice', 'bob']);
    expect(await verdict('alice').textContent()).toBe('Would ring');
    expect(await page.locator('#queue-title').textContent()).toBe('Helpdesk · one after another');
    expect(await page.locator('#queue-state').textContent()).toBe('Open · 1 of 2 members would ring now');
    expect(await page.locator('#queue-ring li').allTextContents()).toEqual(['Alice (20 s)']);
    // The queue's hint: Bob's DND ends in 45 minutes.
    expect(await page.locator('#queue-then').textContent()).toMatch(/^If nobody answers: wait in the queue \(up to 2 min, about 4[56] min expected\) → voicemail 2000$/);

    // Bob's DND ends early: the panel asks again and follows, without a reload.
    await h.del('/v1/people/bob/status').expect(200);
    await expect.poll(() => verdict('bob').textContent()).toBe('Would ring · step 2 of 2');
    expect(await verdict('alice').textContent()).toBe('Would ring · step 1 of 2');
    expect(await page.locator('#queue-state').textContent()).toBe('Open · 2 of 2 members would ring now');
    expect(await page.locator('#queue-ring li').allTextContents()).toEqual(['Alice (20 s)', '<b>Bob</b> & co (20 s)']);

    // Alice takes a call: she leaves the ring list with the reason.
    await h.clock.advanceTo(Math.ceil((h.clock.now() + 1) / 60_000) * 60_000);
    await h.pbx([{ type: 'answered', device: 'alice-desk', at: h.clock.now(), callId: 'c30' }], pbx).expect(200);
    await expect.poll(() => verdict('alice').textContent()).toMatch(/^Left out: on a call since \d\d:\d\d \(PBX\)$/);
    expect(await verdict('bob').textContent()).toBe('Would ring');

    // The supervisor pauses Bob from this queue, and lets him back.
    const pauseOf = async () => (await h.get('/v1/people/bob/queue-pause')).body;
    await page.getByRole('button', { name: 'Pause <b>Bob</b> & co from Helpdesk' }).click();
    await expect.poll(() => verdict('bob').textContent()).toBe('Left out: paused from group calls');
    expect(await pauseOf()).toMatchObject({ groups: ['helpdesk'], setBy: 'supervisor' });
    // The board says so under his status, whichever queue is picked.
    await expect.poll(() => rowOf('bob').locator('.status .paused').textContent()).toBe('Paused from Helpdesk');
    await page.getByRole('button', { name: 'Let <b>Bob</b> & co back into Helpdesk' }).click();
    await expect.poll(() => verdict('bob').textContent()).toBe('Would ring');
    expect((await pauseOf()).error.code).toBe('queue_pause_not_found');
    await expect.poll(() => rowOf('bob').locator('.status .paused').count()).toBe(0);
    // Paused from every group (the board does not know yet): letting him back into this one keeps the others,
    // those he joins later included.
    await h.put('/v1/people/bob/queue-pause', { reason: 'coaching' }).expect(200);
    await page.getByRole('button', { name: 'Pause <b>Bob</b> & co from Helpdesk' }).click();
    await expect.poll(() => verdict('bob').textContent()).toBe('Left out: paused from group calls (coaching)');
    await page.getByRole('button', { name: 'Let <b>Bob</b> & co back into Helpdesk' }).click();
    await expect.poll(() => verdict('bob').textContent()).toBe('Would ring');
    const pause = await pauseOf();
    expect(pause).toMatchObject({ exceptGroups: ['helpdesk'], reason: 'coaching', setBy: 'admin' });
    expect(pause).not.toHaveProperty('groups');
    await expect.poll(() => rowOf('bob').locator('.status .paused').textContent()).toBe('Paused from all groups but Helpdesk (coaching)');
    await h.del('/v1/people/bob/queue-pause').expect(204);

    // No answer to the next question: the last answer does not stay up as if it still held.
    await page.route('**/v1/route', (r) => r.abort());
    await h.put('/v1/people/bob/status', { activity: 'away' }).expect(200);
    await expect.poll(() => page.locator('#queue-state').textContent()).toBe('Cannot show this queue: no answer');
    // The board is redrawn on the next frame after the panel says so.
    await expect.poll(() => cell('alice').textContent()).toBe('');
    expect(await page.locator('#queue-ring li').count()).toBe(0);
    await page.unroute('**/v1/route');
    await h.del('/v1/people/bob/status').expect(200);
    await expect.poll(() => verdict('bob').textContent()).toBe('Would ring');

    // A closed queue: the reason, and what the caller gets instead.
    await page.getByLabel('Queue').selectOption({ label: 'Evening line' });
    await expect.poll(() => page.locator('#queue-state').textContent()).toBe('Closed: outside opening hours; opens 20:00');
    expect(await page.locator('#queue-then').textContent()).toBe('The caller gets: forward to duty phone');
    expect(await ids()).toEqual(['bob', 'carol']);
    expect(await verdict('carol').textContent()).toBe('Queue closed');
    // Nothing to pause from while closed.
    expect(await cell('carol').locator('button').count()).toBe(0);

    // None: the whole board again.
    await page.getByLabel('Queue').selectOption({ label: 'None' });
    await expect.poll(() => page.locator('tbody tr').count()).toBe(3);
    expect(await page.locator('#queue-panel').isVisible()).toBe(false);
    // Only dry runs: the board never moved a strategy's state.
    const after = await h.http.get('/metrics').expect(200);
    expect(after.text.match(/presence_route_decisions_total\{[^}]*dry_run="false"[^}]*\} \d+/g) ?? []).toEqual(before.text.match(/presence_route_decisions_total\{[^}]*dry_run="false"[^}]*\} \d+/g) ?? []);
    await h.clock.advance(1000);
    await h.pbx([{ type: 'hangup', device: 'alice-desk', at: h.clock.now(), callId: 'c30' }], pbx).expect(200);
    await h.del('/v1/groups/helpdesk').expect(204);
    await h.del('/v1/groups/evening').expect(204);
    // The one logged failure: the aborted ask.
    expect(problems.filter((p) => !/ERR_FAILED/.test(p))).toEqual([]);
  });

  it("says in which zone a queue's reasons are worded when the browser's clock reads another", async () => {
    await h.put('/v1/groups/night', { name: 'Night line', timeZone: 'Europe/Berlin', members: [{ personId: 'alice' }] }).expect(201);
    await context.close();
    context = await browser.newContext({ locale: 'en-GB', timezoneId: 'America/New_York' });
    page = await context.newPage();
    page.setDefaultTimeout(5000);
    await page.clock.setFixedTime(new Date(h.clock.now()));
    await signIn(supervisor);
    await page.getByLabel('Queue').selectOption({ label: 'Night line' });
    await expect.poll(() => page.locator('#queue-title').textContent()).toBe('Night line · rings everyone at once · reasons in Europe/Berlin time');
    await h.del('/v1/groups/night').expect(204);
  });

  it("shows durations and pause ends by the server's clock when the browser's is three hours off", async () => {
    await page.clock.setFixedTime(new Date(h.clock.now() + 3 * 3_600_000));
    await signIn(supervisor);
    await h.clock.advance(60_000);
    await h.pbx([{ type: 'answered', device: 'alice-desk', at: h.clock.now(), callId: 'skew' }], pbx).expect(200);
    await expect.poll(() => rowOf('alice').getAttribute('data-availability')).toBe('busy');
    const hhmm = (ms: number) => new Intl.DateTimeFormat('en-GB', { hour: '2-digit', minute: '2-digit', timeZone: 'Europe/Berlin' }).format(ms);
    expect(await rowOf('alice').locator('.since').textContent()).toBe(`${hhmm(h.clock.now())} (just now)`);
    // A pause that ends in 30 minutes has not ended, whatever the browser's clock says.
    const until = h.clock.now() + 30 * 60_000;
    await h.put('/v1/people/bob/queue-pause', { until: new Date(until).toISOString(), reason: 'coaching' }).expect(200);
    // The board learns pauses when it loads (the key stays for the tab's session).
    await page.reload();
    await expect.poll(() => rowOf('bob').locator('.status .paused').textContent()).toBe(`Paused from all groups until ${hhmm(until)} (coaching)`);
    await h.del('/v1/people/bob/queue-pause').expect(204);
    await h.pbx([{ type: 'hangup', device: 'alice-desk', at: h.clock.now(), callId: 'skew' }], pbx).expect(200);
    expect(problems).toEqual([]);
  });

  it('refuses a wrong key with the reason, and keeps the key out of every URL', async () => {
    const urls: string[] = [];
    page.on('request', (r) => urls.push(r.url()));
    await page.goto(`${base}/dashboard`);
    await page.getByLabel('API key').fill('phk_not-a-key');
    await page.getByRole('button', { name: 'Show presence' }).click();
    await expect.poll(() => page.locator('#sign-in-error').textContent()).toMatch(/\(invalid_credentials\)$/);
    expect(await page.getByLabel('API key').isVisible()).toBe(true);
    await signIn(supervisor);
    expect(urls.some((u) => u.includes(supervisor) || u.includes('phk_not-a-key'))).toBe(false);
    // The browser refused nothing of the page's own under its CSP; the refused key's 401 is the one error.
    expect(problems.filter((p) => !/401/.test(p))).toEqual([]);
  });
});
