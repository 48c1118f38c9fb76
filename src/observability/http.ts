import http from 'node:http';
import type { Logger } from 'pino';
import type { RelayMetrics } from './metrics.js';
import type { Relay } from '../relay/relay.js';
import { errorText } from '../publisher/errors.js';
import { liveness, readiness } from './health.js';
import { readStatus, StatusHistory } from './status.js';
import { DASHBOARD_CONTENT_SECURITY_POLICY, DASHBOARD_HTML } from './dashboard-page.js';

const PATHS = '/ (dashboard), /api/status, /metrics, /healthz or /readyz';

/**
 * An HTTP server whose close() also ends open connections. A browser showing the dashboard polls
 * every 1.5 s over one keep-alive connection, which never turns idle, so a plain close() would
 * keep the process from exiting after the relay stopped.
 */
class RelayHttpServer extends http.Server {
  override close(callback?: (error?: Error) => void): this {
    super.close(callback);
    this.closeAllConnections();
    return this;
  }
}

/**
 * Serves the dashboard at /, its data at /api/status, /metrics, /healthz (the process is alive)
 * and /readyz (the relay is streaming). `slot` names the relay on the dashboard.
 */
export function startHttpServer(host: string, port: number, relay: Relay, metrics: RelayMetrics, log: Logger, options: { slot?: string } = {}): Promise<http.Server> {
  const history = new StatusHistory(metrics, log.child({ component: 'status' }));

  const server = new RelayHttpServer((request, response) => {
    const url = new URL(request.url ?? '/', 'http://localhost');
    if (request.method !== 'GET' && request.method !== 'HEAD') {
      response.setHeader('allow', 'GET, HEAD');
      return sendJson(response, 405, { error: `method ${request.method} not allowed; use GET` });
    }

    switch (url.pathname) {
      case '/':
        return sendDashboard(response);
      case '/api/status':
        return sendStatus(response, url, (since) => readStatus(relay, metrics, history, options.slot ?? null, since));
      case '/metrics':
        return sendMetrics(response, metrics);
      case '/healthz':
        return sendJson(response, 200, liveness(relay));
      case '/readyz': {
        const ready = readiness(relay);
        return sendJson(response, ready.status === 'ready' ? 200 : 503, ready);
      }
      default:
        return sendJson(response, 404, { error: `no such path ${url.pathname}; try ${PATHS}` });
    }
  });

  server.on('close', () => history.stop());
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      const address = server.address();
      log.info({ address }, 'HTTP server listening');
      history.start();
      resolve(server);
    });
  });
}

function sendDashboard(response: http.ServerResponse): void {
  // The policy lets the page load nothing but itself and /api/status, which keeps it air-gap safe.
  response.setHeader('content-security-policy', DASHBOARD_CONTENT_SECURITY_POLICY);
  response.setHeader('x-content-type-options', 'nosniff');
  response.setHeader('cache-control', 'no-store');
  send(response, 200, 'text/html; charset=utf-8', DASHBOARD_HTML);
}

/** `since` (Unix milliseconds) limits the history to samples the dashboard does not have yet. */
function sendStatus(response: http.ServerResponse, url: URL, read: (since: number) => Promise<unknown>): void {
  const since = Number(url.searchParams.get('since') ?? 0);
  if (!Number.isFinite(since)) return sendJson(response, 400, { error: `invalid since=${url.searchParams.get('since')}: expected Unix milliseconds` });
  response.setHeader('cache-control', 'no-store');
  read(since).then(
    (status) => sendJson(response, 200, status),
    (error: unknown) => sendJson(response, 500, { error: `reading the status failed: ${errorText(error)}` }),
  );
}

function sendMetrics(response: http.ServerResponse, metrics: RelayMetrics): void {
  metrics.registry.metrics().then(
    (text) => send(response, 200, metrics.registry.contentType, text),
    (error: unknown) => send(response, 500, 'text/plain', `collecting metrics failed: ${errorText(error)}`),
  );
}

function send(response: http.ServerResponse, status: number, type: string, body: string): void {
  response.writeHead(status, { 'content-type': type });
  response.end(body);
}

function sendJson(response: http.ServerResponse, status: number, body: unknown): void {
  send(response, status, 'application/json', JSON.stringify(body));
}
