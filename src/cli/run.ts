import type http from 'node:http';
import { loadConfig } from '../config/config.js';
import { createLogger } from '../log.js';
import { Relay } from '../relay/relay.js';
import { RelayMetrics } from '../observability/metrics.js';
import { startHttpServer } from '../observability/http.js';
import { errorText } from '../publisher/errors.js';

/** Runs the relay until SIGTERM or SIGINT, which drain the open Kafka transaction before exit. */
export async function runCommand(): Promise<number> {
  const config = loadConfig();
  const log = createLogger(config.logLevel);
  const metrics = new RelayMetrics();
  const relay = new Relay(config, log, metrics);

  let server: http.Server | null = null;
  if (config.http.port !== 0) {
    try {
      server = await startHttpServer(config.http.host, config.http.port, relay, metrics, log, { slot: config.slot });
    } catch (error) {
      throw new Error(`could not listen on ${config.http.host}:${config.http.port} (${errorText(error)}); set HTTP_PORT to a free port, or 0 to turn the HTTP server off`);
    }
  }

  const stop = (signal: string): void => {
    log.info({ signal }, 'stop requested; draining the open Kafka transaction');
    relay.requestStop();
  };
  process.once('SIGTERM', () => stop('SIGTERM'));
  process.once('SIGINT', () => stop('SIGINT'));

  log.info({ slot: config.slot, publication: config.publication, table: `${config.table.schema}.${config.table.name}`, brokers: config.kafkaBrokers, transactionalId: config.transactionalId }, 'relay starting');
  try {
    await relay.run();
    return 0;
  } catch (error) {
    log.error({ err: errorText(error), state: relay.states.state }, 'relay stopped on error');
    console.error(`outbox-relay: ${errorText(error)}`);
    return 1;
  } finally {
    server?.close();
  }
}
