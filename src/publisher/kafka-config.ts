import type { KafkaSecurity } from '../config/config.js';

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
