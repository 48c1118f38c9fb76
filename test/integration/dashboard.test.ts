import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, insertEvents, slotConfirmedFlush, uniqueName, type TestDatabase } from '../support/database.js';
import { readCommitted } from '../support/kafka.js';
import { relayEnv, startRelay, type RelayProcess } from '../support/relay-process.js';
import { freePort } from '../support/http.js';
import { waitFor } from '../support/witness.js';
import { Scrape, terminateWalSender } from './observability-support.js';

const CHROMIUM = '/usr/bin/chromium';
const SCREENSHOT = path.resolve(import.meta.dirname, '../../docs/dashboard.png');

/** Flags for a browser that talks to nothing but the page it is given. */
const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];

// The dashboard at / in headless Chromium against the real CLI; its numbers must match /metrics.
describe('dashboard in a browser', () => {
  let db: TestDatabase;
  let relay: RelayProcess;
  let port: number;
  let profile: string;
  let browser: BrowserContext;
  let page: Page;
  const requested: string[] = [];
  const consoleErrors: string[] = [];
  const slot = uniqueName('dashboard');
  const topic = `${slot}.order-events`;

  beforeAll(async () => {
    if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing; run scripts/setup, which installs Debian's chromium package`);
    db = await createTestDatabase();
    port = await freePort();
    relay = startRelay(relayEnv(db.url, slot, { HTTP_PORT: String(port), OUTBOX_SLOT_POLL_INTERVAL_MS: '1000', OUTBOX_IDLE_ACK_MIN_BYTES: String(64 * 1024 * 1024) }));
    await relay.waitForLog(/"state":"streaming"/);

    profile = mkdtempSync(path.join(os.tmpdir(), 'relay-dashboard-chromium-'));
    browser = await chromium.launchPersistentContext(profile, { executablePath: CHROMIUM, args: CHROMIUM_ARGS, colorScheme: 'dark', viewport: { width: 1440, height: 1000 } });
    page = browser.pages()[0] ?? (await browser.newPage());
    page.on('request', (request) => requested.push(request.url()));
    page.on('console', (message) => {
      if (message.type() === 'error') consoleErrors.push(message.text());
    });
    await page.goto(`http://127.0.0.1:${port}/`);
  });

  afterAll(async () => {
    await browser?.close();
    if (profile) rmSync(profile, { recursive: true, force: true });
    await relay?.stop();
    await db?.close();
  });

  // textContent, not innerText: the badge is upper-cased by CSS, the data behind it is not.
  const text = async (id: string): Promise<string> => (await page.locator(`#${id}`).textContent()) ?? '';

  it('shows the state and no errors at start', async () => {
    await expect.poll(() => text('state'), { timeout: 10_000 }).toBe('streaming');
    expect((await Scrape.of(port)).labelWhereOne('outbox_relay_state', 'state')).toBe('streaming');
    expect(await text('slot')).toBe(`slot ${slot}`);
    expect(await text('errors')).toContain('No errors');
    expect(await page.locator('#reason').isVisible()).toBe(false);
  });

  it('matches /metrics after events flow', async () => {
    // Twenty seconds of steady writes, with unrelated WAL, so that the charts have a shape.
    let version = 0;
    for (let second = 0; second < 20; second++) {
      const started = Date.now();
      await insertEvents(db.sql, Array.from({ length: 5 + (second % 4) * 5 }, () => ({ aggregateId: `d-${version % 7}`, aggregateVersion: ++version, eventType: version % 3 === 0 ? 'OrderShipped' : 'OrderPlaced' })));
      await db.sql.query(`INSERT INTO noise (pad) SELECT repeat(md5(random()::text), 8) FROM generate_series(1, 200)`);
      await new Promise((resolve) => setTimeout(resolve, Math.max(0, 1000 - (Date.now() - started))));
    }
    await readCommitted([topic], { expected: version });

    const onPage = await waitFor('the page to show every event and the slot to reach the page LSN', async () => {
      const published = Number((await text('events-published')).replaceAll(',', ''));
      const lsn = await text('ack-lsn');
      return published === version && lsn === (await slotConfirmedFlush(db.sql, slot)) ? { published, lsn } : undefined;
    }, 20_000);

    const scrape = await Scrape.of(port);
    expect(onPage.published).toBe(scrape.sum('outbox_relay_events_published_total'));
    expect(onPage.lsn).toBe(scrape.labelWhereOne('outbox_relay_acknowledged_lsn_info', 'lsn'));
    expect(await text('state')).toBe(scrape.labelWhereOne('outbox_relay_state', 'state'));
    expect(await text('dead-letters')).toBe('dead letters: 0');

    const commitSeconds = scrape.value('outbox_relay_acknowledged_commit_timestamp_seconds')!;
    const commitShown = (await page.locator('#ack-commit-time').getAttribute('datetime')) ?? '';
    expect(Math.abs(Date.parse(commitShown) - commitSeconds * 1000)).toBeLessThan(1);
    expect(await text('ack-commit-time')).toBe(`${commitShown.slice(11, 19)} UTC`);

    expect(await text('lag-seconds')).toMatch(/^\d+\.\d+\s*s$/);
    expect(await text('throughput')).toMatch(/^[\d.,]+\s*events\/s$/);
    for (const chart of ['chart-lag-bytes', 'chart-lag-seconds', 'chart-throughput']) {
      const points = await page.locator(`#${chart} polyline`).first().getAttribute('points');
      expect(points?.split(' ').length ?? 0, `points drawn in ${chart}`).toBeGreaterThan(10);
    }
  });

  it('lists an error the relay recovered from', async () => {
    await terminateWalSender(db.sql, slot);
    const code = await waitFor('an error row on the page', async () => {
      const cell = page.locator('#errors td.code').first();
      return (await cell.count()) > 0 ? ((await cell.textContent()) ?? '') : undefined;
    }, 30_000);
    await expect.poll(() => text('state'), { timeout: 30_000 }).toBe('streaming');

    const scrape = await Scrape.of(port);
    expect(scrape.value('outbox_relay_errors_total', `code="${code}"`)).toBe(1);
    expect(await page.locator('#errors td.message').first().textContent()).not.toBe('');
    // Unrelated WAL keeps the last screenshot's lag chart honest about what the relay has not acknowledged.
    await db.sql.query(`INSERT INTO noise (pad) SELECT repeat(md5(random()::text), 8) FROM generate_series(1, 2000)`);
    await new Promise((resolve) => setTimeout(resolve, 3000));

    mkdirSync(path.dirname(SCREENSHOT), { recursive: true });
    await page.screenshot({ path: SCREENSHOT, fullPage: true });
  });

  it('loads nothing from other hosts', async () => {
    const origin = `http://127.0.0.1:${port}/`;
    expect(requested.length).toBeGreaterThan(5);
    expect(requested.filter((url) => !url.startsWith(origin))).toEqual([]);
    // A Content-Security-Policy violation, such as an inline script whose hash does not match, shows here.
    expect(consoleErrors).toEqual([]);
  });

  it('marks the page stale once the relay stops', async () => {
    expect(await relay.stop()).toBe(0);
    await expect.poll(() => text('state'), { timeout: 15_000 }).toBe('unreachable');
    expect(await page.locator('#reason').textContent()).toContain('The numbers below are old');
  });
});
