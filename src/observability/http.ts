import http from 'node:http';
import type { Logger } from 'pino';
import type { RelayMetrics } from './metrics.js';
import type { Relay } from '../relay/relay.js';

/** Serves /metrics, /healthz (the process is alive) and /readyz (the relay is streaming). */
export function startHttpServer(host: string, port: number, relay: Relay, metrics: RelayMetrics, log: Logger): Promise<http.Server> {
  const server = http.createServer((request, response) => {
    const path = (request.url ?? '/').split('?')[0];
    if (path === '/metrics') {
      metrics.registry.metrics().then(
        (text) => send(response, 200, metrics.registry.contentType, text),
        (error: unknown) => send(response, 500, 'text/plain', String(error)),
      );
      return;
    }
    if (path === '/healthz') return sendJson(response, 200, { status: 'alive', state: relay.states.state });
    if (path === '/readyz') return readiness(response, relay);
    sendJson(response, 404, { error: `no such path ${path}; try /metrics, /healthz or /readyz` });
  });

  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      const address = server.address();
      log.info({ address }, 'HTTP server listening');
      resolve(server);
    });
  });
}

/** A Kafka commit pending longer than this means Kafka is unreachable, even while the state says streaming. */
const KAFKA_STALL_SECONDS = 15;

function readiness(response: http.ServerResponse, relay: Relay): void {
  const state = relay.states.state;
  const pending = relay.kafkaCommitPendingSeconds;
  let reason: string | null = null;
  if (state !== 'streaming') reason = relay.error ?? `relay is ${state}`;
  else if (pending > KAFKA_STALL_SECONDS) reason = `Kafka transaction pending for ${Math.round(pending)} s: Kafka is unreachable or slow`;

  sendJson(response, reason === null ? 200 : 503, { status: reason === null ? 'ready' : 'not ready', state, reason, lagSeconds: relay.lagSeconds });
}

function send(response: http.ServerResponse, status: number, type: string, body: string): void {
  response.writeHead(status, { 'content-type': type });
  response.end(body);
}

function sendJson(response: http.ServerResponse, status: number, body: unknown): void {
  send(response, status, 'application/json', JSON.stringify(body));
}
