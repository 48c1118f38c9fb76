// The classic polling outbox relay, as a peer for the benchmark: every interval it locks a batch
// of unpublished rows with SELECT ... FOR UPDATE SKIP LOCKED, produces them to Kafka, waits for
// the acknowledgements, marks them published and commits. It reads public.bench_polling_outbox,
// a copy of the outbox with a sequence and a published_at column, so the relay's table stays as
// it ships. Delivery is at least once: the producer is idempotent but not transactional, so a
// crash between the Kafka acknowledgement and the PostgreSQL commit would publish a batch twice.
//
// Usage: node bench/polling-relay.mjs --url URL --brokers HOST:PORT --topic-prefix P
//          [--batch 50] [--interval-ms 100] [--drain-while-full false] [--seconds 3600]
//   --drain-while-full true polls again at once while batches come back full (the tuned variant).
//   With false, it takes one batch per interval, as the classic scheduled poller does.
import pg from 'pg';
import Kafka from '@confluentinc/kafka-javascript';
import { parseArgs } from './lib.mjs';

const args = parseArgs(process.argv.slice(2), {
  url: '', brokers: '', 'topic-prefix': '', batch: '50', 'interval-ms': '100', 'drain-while-full': 'false', seconds: '3600',
});
if (!args.url || !args.brokers || !args['topic-prefix']) throw new Error('--url, --brokers and --topic-prefix are required');
const batchSize = Number(args.batch);
const intervalMs = Number(args['interval-ms']);
const drainWhileFull = args['drain-while-full'] === 'true';
const deadline = Date.now() + Number(args.seconds) * 1000;

const SELECT = `
SELECT seq, id::text, event_type, aggregate_type, aggregate_id, aggregate_version::text, event_data::text,
       correlation_id, created_at
FROM public.bench_polling_outbox
WHERE published_at IS NULL
ORDER BY seq
LIMIT $1
FOR UPDATE SKIP LOCKED`;
const MARK = 'UPDATE public.bench_polling_outbox SET published_at = now() WHERE seq = ANY($1::bigint[])';

const client = new pg.Client({ connectionString: args.url, application_name: 'bench-polling-relay' });
await client.connect();
const kafka = new Kafka.KafkaJS.Kafka({ kafkaJS: { brokers: args.brokers.split(','), logLevel: Kafka.KafkaJS.logLevel.ERROR } });
const producer = kafka.producer({ kafkaJS: { idempotent: true, acks: -1 }, 'linger.ms': 5 });
await producer.connect();

let stopping = false;
process.on('SIGTERM', () => { stopping = true; });
process.on('SIGINT', () => { stopping = true; });

let published = 0;

/** Publishes one batch in one PostgreSQL transaction; returns how many rows it published. */
async function publishBatch() {
  await client.query('BEGIN');
  try {
    const { rows } = await client.query(SELECT, [batchSize]);
    if (rows.length > 0) {
      const byTopic = new Map();
      for (const row of rows) {
        const topic = `${args['topic-prefix']}${row.aggregate_type}`;
        if (!byTopic.has(topic)) byTopic.set(topic, []);
        byTopic.get(topic).push({
          key: row.aggregate_id,
          value: row.event_data,
          headers: {
            id: row.id, event_type: row.event_type, aggregate_type: row.aggregate_type, aggregate_id: row.aggregate_id,
            aggregate_version: row.aggregate_version, correlation_id: row.correlation_id, created_at: row.created_at.toISOString(),
          },
        });
      }
      // sendBatch resolves once every record is acknowledged by the broker (acks=all).
      await producer.sendBatch({ topicMessages: [...byTopic].map(([topic, messages]) => ({ topic, messages })) });
      await client.query(MARK, [rows.map((row) => row.seq)]);
    }
    await client.query('COMMIT');
    published += rows.length;
    return rows.length;
  } catch (error) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw error;
  }
}

while (!stopping && Date.now() < deadline) {
  const started = Date.now();
  let count = await publishBatch();
  while (drainWhileFull && count === batchSize && !stopping) count = await publishBatch();
  const wait = intervalMs - (Date.now() - started);
  if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
}
await producer.disconnect();
await client.end();
console.log(JSON.stringify({ published }));
