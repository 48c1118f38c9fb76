/** Explicit topics per event type; they take precedence over the template. */
export type TopicMap = Map<string, string>;

const PLACEHOLDER = /\{([a-z_]+)\}/g;
const KNOWN_PLACEHOLDERS = new Set(['aggregate_type', 'event_type']);
const LEGAL_TOPIC = /^[A-Za-z0-9._-]{1,249}$/;

/** Returns a description of what is wrong with a topic template, or undefined when it is valid. */
export function validateTopicTemplate(template: string): string | undefined {
  for (const match of template.matchAll(PLACEHOLDER)) {
    if (!KNOWN_PLACEHOLDERS.has(match[1]!)) return `unknown placeholder {${match[1]}}; use {aggregate_type} or {event_type}`;
  }
  const sample = template.replace(PLACEHOLDER, 'x');
  if (!LEGAL_TOPIC.test(sample)) return 'outside the placeholders a topic name may only hold letters, digits, ".", "_" and "-"';
  return undefined;
}

/** Parses `EventA=topic-a,EventB=topic-b`; returns an error text instead of throwing. */
export function parseTopicMap(text: string): TopicMap | string {
  const map: TopicMap = new Map();
  for (const pair of text.split(',').map((p) => p.trim()).filter((p) => p.length > 0)) {
    const separator = pair.indexOf('=');
    if (separator <= 0 || separator === pair.length - 1) return `"${pair}" is not event_type=topic`;

    const eventType = pair.slice(0, separator).trim();
    const topic = pair.slice(separator + 1).trim();
    if (!LEGAL_TOPIC.test(topic)) return `"${topic}" is not a legal Kafka topic name`;
    if (map.has(eventType)) return `event type "${eventType}" is mapped twice`;
    map.set(eventType, topic);
  }
  return map;
}

/** Routes remembered per (aggregate type, event type); beyond this many pairs, the oldest half is forgotten. */
const ROUTE_CACHE_SIZE = 10_000;

export class TopicRouter {
  private readonly cache = new Map<string, { topic: string } | { error: string }>();

  constructor(
    private readonly template: string,
    private readonly map: TopicMap,
  ) {}

  /** Returns the topic for an event, or an error text when the result is not a legal topic name. */
  route(aggregateType: string, eventType: string): { topic: string } | { error: string } {
    // A stream has few distinct pairs, so filling the template once per pair saves a regex per event.
    const key = `${aggregateType}\u0000${eventType}`;
    let route = this.cache.get(key);
    if (route === undefined) {
      route = this.compute(aggregateType, eventType);
      if (this.cache.size >= ROUTE_CACHE_SIZE) this.forgetOldestHalf();
      this.cache.set(key, route);
    }
    return route;
  }

  private forgetOldestHalf(): void {
    let drop = this.cache.size / 2;
    for (const key of this.cache.keys()) {
      if (drop-- <= 0) break;
      this.cache.delete(key);
    }
  }

  private compute(aggregateType: string, eventType: string): { topic: string } | { error: string } {
    const mapped = this.map.get(eventType);
    if (mapped !== undefined) return { topic: mapped };

    const topic = this.template.replace(PLACEHOLDER, (_, name: string) => (name === 'aggregate_type' ? aggregateType : eventType));
    if (!LEGAL_TOPIC.test(topic)) {
      return { error: `topic "${topic}" built from template "${this.template}" is not a legal Kafka topic name; map event type "${eventType}" in OUTBOX_TOPIC_MAP or change OUTBOX_TOPIC_TEMPLATE` };
    }
    return { topic };
  }
}
