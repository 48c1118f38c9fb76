/**
 * A small order service that writes each order and its outbox events in one PostgreSQL
 * transaction, the pattern the relay exists for. About one order in ten is rolled back on purpose,
 * so the consumer can show that none of its events reach Kafka.
 *
 * Environment:
 *   DATABASE_URL   the application's database, already migrated with "outbox-relay migrate"
 *   DEMO_ORDERS    how many orders to place (default 50)
 *   DEMO_SEED      seed of the pseudo-random choices, to repeat a run (default: derived from the clock)
 *
 * Prints one line per order, then `ROLLED_BACK_ORDERS=id,id,...` and, as the last line on stdout,
 * `COMMITTED_EVENTS=N`, for scripts/demo to pass on to the consumer.
 */
import { randomUUID, randomBytes } from 'node:crypto';
import pg from 'pg';

const ROLLBACK_RATE = 0.1;
const FOLLOW_UP_EVENTS = ['OrderPaid', 'OrderShipped'] as const;
const CUSTOMERS = ['ada', 'grace', 'edsger', 'barbara', 'ken', 'margaret'];

interface DemoEvent {
  eventType: string;
  version: number;
  data: Record<string, unknown>;
}

interface OrderResult {
  orderId: string;
  events: DemoEvent[];
  committed: boolean;
}

/** mulberry32: a tiny seeded generator, so that a printed seed repeats a run exactly. */
function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function readPositiveInt(name: string, fallback: number): number {
  const text = process.env[name];
  if (text === undefined || text === '') return fallback;
  if (!/^\d+$/.test(text) || Number(text) < 1) throw new Error(`${name}=${JSON.stringify(text)} is invalid: expected a positive integer`);
  return Number(text);
}

function readSeed(): number {
  const text = process.env.DEMO_SEED;
  if (text === undefined || text === '') return Date.now() % 2 ** 31;
  if (!/^\d+$/.test(text)) throw new Error(`DEMO_SEED=${JSON.stringify(text)} is invalid: expected a non-negative integer`);
  return Number(text) % 2 ** 31;
}

async function createOrdersTable(sql: pg.Client): Promise<void> {
  await sql.query(`
    CREATE TABLE IF NOT EXISTS orders (
      id         bigserial   PRIMARY KEY,
      customer   text        NOT NULL,
      total      numeric     NOT NULL,
      created_at timestamptz NOT NULL DEFAULT now()
    )`);
}

/** OrderPlaced, then possibly OrderPaid and OrderShipped: versions 1..n of one aggregate. */
function planEvents(orderId: string, customer: string, total: string, random: () => number): DemoEvent[] {
  const events: DemoEvent[] = [{ eventType: 'OrderPlaced', version: 1, data: { orderId, customer, total } }];
  const followUps = Math.floor(random() * (FOLLOW_UP_EVENTS.length + 1));
  for (const eventType of FOLLOW_UP_EVENTS.slice(0, followUps)) {
    events.push({ eventType, version: events.length + 1, data: { orderId, at: new Date().toISOString() } });
  }
  return events;
}

/** Returns a random W3C traceparent value, as a traced service would put in the metadata. */
function traceparent(): string {
  return `00-${randomBytes(16).toString('hex')}-${randomBytes(8).toString('hex')}-01`;
}

async function insertOutboxEvent(sql: pg.Client, orderId: string, event: DemoEvent, correlationId: string): Promise<void> {
  await sql.query(
    `INSERT INTO outbox_events (event_type, aggregate_type, aggregate_id, aggregate_version, event_data, metadata, correlation_id)
     VALUES ($1, 'order', $2, $3, $4::jsonb, $5::jsonb, $6)`,
    [event.eventType, orderId, event.version, JSON.stringify(event.data), JSON.stringify({ traceparent: traceparent(), source: 'demo-order-service' }), correlationId],
  );
}

/** Places one order and its events in one transaction, then commits it or, about one time in ten, rolls it back. */
async function placeOrder(sql: pg.Client, random: () => number): Promise<OrderResult> {
  const customer = CUSTOMERS[Math.floor(random() * CUSTOMERS.length)]!;
  const total = (5 + random() * 495).toFixed(2);
  const rollBack = random() < ROLLBACK_RATE;

  await sql.query('BEGIN');
  try {
    const inserted = await sql.query<{ id: string }>('INSERT INTO orders (customer, total) VALUES ($1, $2) RETURNING id::text AS id', [customer, total]);
    const orderId = inserted.rows[0]!.id;
    const events = planEvents(orderId, customer, total, random);
    const correlationId = randomUUID();
    for (const event of events) await insertOutboxEvent(sql, orderId, event, correlationId);

    await sql.query(rollBack ? 'ROLLBACK' : 'COMMIT');
    return { orderId, events, committed: !rollBack };
  } catch (error) {
    await sql.query('ROLLBACK').catch(() => undefined);
    throw error;
  }
}

function describe(result: OrderResult): string {
  const types = result.events.map((event) => event.eventType).join(', ');
  const count = `${result.events.length} event${result.events.length === 1 ? '' : 's'}`;
  return result.committed ? `order ${result.orderId} committed: ${types} (${count})` : `order ${result.orderId} rolled back on purpose: ${types} (${count} discarded)`;
}

async function main(): Promise<void> {
  const databaseUrl = process.env.DATABASE_URL;
  if (databaseUrl === undefined || databaseUrl === '') throw new Error('DATABASE_URL is missing: expected the postgres:// URL of the migrated application database');
  const orders = readPositiveInt('DEMO_ORDERS', 50);
  const seed = readSeed();
  const random = seededRandom(seed);

  const sql = new pg.Client({ connectionString: databaseUrl, application_name: 'demo-order-service' });
  await sql.connect();
  try {
    await createOrdersTable(sql);
    console.log(`placing ${orders} orders (DEMO_SEED=${seed})`);

    let committedOrders = 0;
    let committedEvents = 0;
    const rolledBack: string[] = [];
    for (let i = 0; i < orders; i++) {
      const result = await placeOrder(sql, random);
      console.log(describe(result));
      if (result.committed) {
        committedOrders++;
        committedEvents += result.events.length;
      } else {
        rolledBack.push(result.orderId);
      }
    }

    console.log(`${committedOrders} of ${orders} orders committed, ${orders - committedOrders} rolled back; ${committedEvents} outbox events committed`);
    console.log(`ROLLED_BACK_ORDERS=${rolledBack.join(',')}`);
    console.log(`COMMITTED_EVENTS=${committedEvents}`);
  } finally {
    await sql.end();
  }
}

main().catch((error: unknown) => {
  console.error(`order-service: ${error instanceof Error ? error.message : String(error)}`);
  process.exitCode = 1;
});
