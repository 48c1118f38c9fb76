import type { KafkaSecurity } from '../config/config.js';

/**
 * The relay produces records as it decodes them, so batches form while it works, and a commit
 * waits for the last records' linger: a short one keeps that wait small.
 */
export const DEFAULT_LINGER_MS = 1;

/** librdkafka properties shared by every client the relay creates: brokers, TLS and SASL. */
export function commonKafkaProperties(brokers: string[], security: KafkaSecurity, clientId: string): Record<string, string | number | boolean> {
  const properties: Record<string, string | number | boolean> = {
    'bootstrap.servers': brokers.join(','),
    'client.id': clientId,
    'reconnect.backoff.ms': 200,
    'reconnect.backoff.max.ms': 5000,
  };

  const sasl = security.saslMechanism !== undefined;
  properties['security.protocol'] = security.ssl ? (sasl ? 'sasl_ssl' : 'ssl') : sasl ? 'sasl_plaintext' : 'plaintext';
  if (security.sslCaLocation !== undefined) properties['ssl.ca.location'] = security.sslCaLocation;
  if (sasl) {
    properties['sasl.mechanisms'] = security.saslMechanism!;
    properties['sasl.username'] = security.saslUsername!;
    properties['sasl.password'] = security.saslPassword!;
  }
  return properties;
}
