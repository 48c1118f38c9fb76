import { execFile } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse as parseYaml, parseAllDocuments } from 'yaml';

// Checks the deployment files against the code they describe: the Prometheus rules and config
// with promtool, the Grafana dashboard's metric names against the metrics the relay registers,
// and the ports and probes of docker-compose.yml and the Kubernetes example.

const root = path.resolve(import.meta.dirname, '../..');
const prometheusDir = path.join(root, 'deploy/prometheus');
const grafanaDir = path.join(root, 'deploy/grafana');

// --- promtool -------------------------------------------------------------------------------------

interface ToolResult {
  exitCode: number;
  output: string;
}

/** Runs promtool with `args`. A missing promtool rejects, so the calling test fails instead of skipping. */
function runPromtool(args: string[]): Promise<ToolResult> {
  return new Promise((resolve, reject) => {
    execFile('promtool', args, { cwd: root, timeout: 60_000 }, (error, stdout, stderr) => {
      const output = `$ promtool ${args.join(' ')}\n${stdout}${stderr}`;
      if (error === null) {
        resolve({ exitCode: 0, output });
        return;
      }
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') {
        reject(new Error("promtool not found on PATH; run scripts/setup, which installs Debian's prometheus package that ships it"));
        return;
      }
      resolve({ exitCode: typeof error.code === 'number' ? error.code : -1, output: `${output}\n${error.message}` });
    });
  });
}

describe('Prometheus files', () => {
  it('alert rules pass promtool check rules', async () => {
    const result = await runPromtool(['check', 'rules', 'deploy/prometheus/alerts.yml']);
    expect(result.exitCode, result.output).toBe(0);
  });

  it('config passes promtool check config', async () => {
    const result = await runPromtool(['check', 'config', 'deploy/prometheus/prometheus.yml']);
    expect(result.exitCode, result.output).toBe(0);
  });

  it('alert rules pass their unit tests', async () => {
    const result = await runPromtool(['test', 'rules', 'deploy/prometheus/alerts.test.yml']);
    expect(result.exitCode, result.output).toBe(0);
  });

  it('every alert has a unit test that fires it', () => {
    const tests = parseYaml(readFileSync(path.join(prometheusDir, 'alerts.test.yml'), 'utf8')) as { tests: { alert_rule_test?: { alertname: string; exp_alerts: unknown[] }[] }[] };
    const fired = new Set(tests.tests.flatMap((test) => (test.alert_rule_test ?? []).filter((check) => check.exp_alerts.length > 0).map((check) => check.alertname)));
    const silent = new Set(tests.tests.flatMap((test) => (test.alert_rule_test ?? []).filter((check) => check.exp_alerts.length === 0).map((check) => check.alertname)));

    for (const rule of alertRules()) {
      expect(fired, `no test case in alerts.test.yml expects ${rule.alert} to fire`).toContain(rule.alert);
      expect(silent, `no test case in alerts.test.yml expects ${rule.alert} to stay silent`).toContain(rule.alert);
    }
  });

  it('every alert has a severity, summary and description', () => {
    for (const rule of alertRules()) {
      expect(['critical', 'warning'], `severity of ${rule.alert}`).toContain(rule.labels?.severity);
      expect(rule.annotations?.summary, `summary of ${rule.alert}`).toBeTruthy();
      expect(rule.annotations?.description, `description of ${rule.alert}`).toBeTruthy();
    }
  });

  it('alert expressions name exported metrics', () => {
    const exported = exportedMetricNames();
    for (const rule of alertRules()) {
      for (const name of relayMetricNames(rule.expr)) expect(exported, `${rule.alert} uses ${name}`).toContain(name);
    }
  });

  it('alert expressions name existing relay states', () => {
    const states = relayStates();
    for (const rule of alertRules()) {
      for (const match of rule.expr.matchAll(/outbox_relay_state\{[^}]*state="([^"]*)"/g)) {
        expect(states, `${rule.alert} uses state "${match[1]}"`).toContain(match[1]);
      }
    }
  });

  it('scrape target is the compose relay', () => {
    const config = parseYaml(readFileSync(path.join(prometheusDir, 'prometheus.yml'), 'utf8')) as {
      scrape_configs: { job_name: string; static_configs: { targets: string[] }[] }[];
    };
    const compose = composeFile();
    const job = config.scrape_configs.find((scrape) => scrape.job_name === 'outbox-relay');

    expect(job, 'job "outbox-relay", which OutboxRelayDown expects').toBeDefined();
    expect(job?.static_configs.flatMap((c) => c.targets)).toEqual([`relay:${compose.services.relay?.environment?.HTTP_PORT}`]);
  });
});

interface AlertRule {
  alert: string;
  expr: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}

function alertRules(): AlertRule[] {
  const file = parseYaml(readFileSync(path.join(prometheusDir, 'alerts.yml'), 'utf8')) as { groups: { rules: AlertRule[] }[] };
  const rules = file.groups.flatMap((group) => group.rules);
  expect(rules.length, 'alert rules in deploy/prometheus/alerts.yml').toBeGreaterThan(0);
  return rules;
}

// --- Metric names in the source ---------------------------------------------------------------------

/**
 * Collects the names of the series that the relay exports, read from the `new client.Gauge({ name:
 * ... })` calls under src/. A histogram exports `_bucket`, `_sum` and `_count` series and a summary
 * `_sum` and `_count`. prom-client exports a counter under the name it is given, which ends in
 * `_total` here.
 */
function exportedMetricNames(): Set<string> {
  const names = new Set<string>();
  for (const file of sourceFiles(path.join(root, 'src'))) {
    const text = readFileSync(file, 'utf8');
    const prefix = /const PREFIX = '([^']*)'/.exec(text)?.[1];
    for (const match of text.matchAll(/new client\.(Gauge|Counter|Histogram|Summary)\(\{\s*name:\s*(`[^`]*`|'[^']*')/g)) {
      const kind = match[1];
      let name = match[2]!.slice(1, -1);
      if (name.includes('${PREFIX}')) {
        expect(prefix, `${file} uses \${PREFIX} but defines no PREFIX constant`).toBeDefined();
        name = name.replace('${PREFIX}', prefix!);
      }
      expect(name, `metric name in ${file}`).toMatch(/^[a-zA-Z_:][a-zA-Z0-9_:]*$/);

      if (kind === 'Histogram') for (const suffix of ['_bucket', '_sum', '_count']) names.add(name + suffix);
      else if (kind === 'Summary') for (const suffix of ['', '_sum', '_count']) names.add(name + suffix);
      else names.add(name);
    }
  }
  // A regular expression that stops matching would otherwise pass every check below.
  expect(names, 'metrics read from src/observability/metrics.ts').toContain('outbox_relay_end_to_end_latency_seconds_bucket');
  expect(names, 'metrics read from src/observability/metrics.ts').toContain('outbox_relay_lag_seconds');
  return names;
}

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) return sourceFiles(full);
    return entry.name.endsWith('.ts') ? [full] : [];
  });
}

/** Extracts the relay metric names (outbox_relay_*) from a PromQL expression. */
function relayMetricNames(expr: string): string[] {
  return [...expr.matchAll(/\boutbox_relay_[a-zA-Z0-9_]+/g)].map((match) => match[0]);
}

function relayStates(): string[] {
  const text = readFileSync(path.join(root, 'src/relay/states.ts'), 'utf8');
  const union = /export type RelayState = ([^;]+);/.exec(text)?.[1];
  expect(union, 'RelayState type in src/relay/states.ts').toBeDefined();
  return [...union!.matchAll(/'([a-z_]+)'/g)].map((match) => match[1]!);
}

// --- Grafana ----------------------------------------------------------------------------------------

interface GrafanaTarget {
  expr?: string;
  refId: string;
  datasource?: { type?: string; uid?: string };
}

interface GrafanaPanel {
  id: number;
  type: string;
  title: string;
  panels?: GrafanaPanel[];
  targets?: GrafanaTarget[];
}

interface GrafanaDashboard {
  uid: string;
  schemaVersion: number;
  panels: GrafanaPanel[];
  templating: { list: { name: string; type: string; query: unknown; current?: { value?: unknown } }[] };
}

function dashboard(): GrafanaDashboard {
  return JSON.parse(readFileSync(path.join(grafanaDir, 'outbox-relay-dashboard.json'), 'utf8')) as GrafanaDashboard;
}

/** Flattens the panel tree, so that panels inside collapsed rows are checked too. */
function allPanels(panels: GrafanaPanel[]): GrafanaPanel[] {
  return panels.flatMap((panel) => [panel, ...allPanels(panel.panels ?? [])]);
}

describe('Grafana dashboard', () => {
  it('panel expressions name exported metrics', () => {
    const exported = exportedMetricNames();
    const panels = allPanels(dashboard().panels).filter((panel) => panel.type !== 'row');
    expect(panels.length).toBeGreaterThan(0);

    for (const panel of panels) {
      expect(panel.targets?.length, `targets of panel "${panel.title}"`).toBeGreaterThan(0);
      for (const target of panel.targets ?? []) {
        const names = relayMetricNames(target.expr ?? '');
        // A misspelt prefix (outbox_rlay_) would otherwise go unchecked.
        expect(names.length, `panel "${panel.title}" query ${target.refId} names no outbox_relay_ metric: ${target.expr}`).toBeGreaterThan(0);
        for (const name of names) expect(exported, `panel "${panel.title}" uses ${name}`).toContain(name);
      }
    }
  });

  it('variable queries name exported metrics', () => {
    const exported = exportedMetricNames();
    for (const variable of dashboard().templating.list.filter((v) => v.type === 'query')) {
      const query = JSON.stringify(variable.query);
      for (const name of relayMetricNames(query)) expect(exported, `variable ${variable.name} uses ${name}`).toContain(name);
    }
  });

  it('panels show the relay page views', () => {
    const expressions = allPanels(dashboard().panels).flatMap((panel) => (panel.targets ?? []).map((target) => target.expr ?? ''));
    const required = [
      'outbox_relay_lag_bytes',
      'outbox_relay_lag_seconds',
      'outbox_relay_events_published_total',
      'outbox_relay_end_to_end_latency_seconds_bucket',
      'outbox_relay_state',
      'outbox_relay_acknowledged_lsn_info',
      'outbox_relay_slot_retained_wal_bytes',
      'outbox_relay_slot_safe_wal_size_bytes',
      'outbox_relay_dead_letters_total',
      'outbox_relay_kafka_transaction_duration_seconds_bucket',
      'outbox_relay_retries_total',
      'outbox_relay_errors_total',
      'outbox_relay_partition_ahead_seconds',
    ];
    for (const name of required) {
      expect(expressions.some((expr) => relayMetricNames(expr).includes(name)), `no panel shows ${name}`).toBe(true);
    }
  });

  it('panels use the data source variable', () => {
    const board = dashboard();
    const variable = board.templating.list.find((v) => v.name === 'DS_PROMETHEUS');
    expect(variable?.type).toBe('datasource');
    expect(variable?.query).toBe('prometheus');

    for (const panel of allPanels(board.panels)) {
      for (const target of panel.targets ?? []) expect(target.datasource?.uid, `panel "${panel.title}" query ${target.refId}`).toBe('${DS_PROMETHEUS}');
    }
  });

  it('panel ids are unique', () => {
    const ids = allPanels(dashboard().panels).map((panel) => panel.id);
    expect(new Set(ids).size).toBe(ids.length);
  });

  it('provisioned data source is the default of the variable', () => {
    const board = dashboard();
    const provisioned = parseYaml(readFileSync(path.join(grafanaDir, 'provisioning/datasources/prometheus.yml'), 'utf8')) as { datasources: { uid: string; type: string }[] };
    const variable = board.templating.list.find((v) => v.name === 'DS_PROMETHEUS');

    expect(provisioned.datasources.map((source) => source.type)).toEqual(['prometheus']);
    expect(variable?.current?.value).toBe(provisioned.datasources[0]?.uid);
  });

  it('dashboard provider reads the mounted folder', () => {
    const provider = parseYaml(readFileSync(path.join(grafanaDir, 'provisioning/dashboards/outbox-relay.yml'), 'utf8')) as { providers: { options: { path: string } }[] };
    const folder = provider.providers[0]?.options.path;
    const mounts = composeFile().services.grafana?.volumes ?? [];

    expect(folder).toBeDefined();
    expect(mounts).toContain(`./deploy/grafana/outbox-relay-dashboard.json:${folder}/outbox-relay-dashboard.json:ro`);
    expect(mounts).toContain('./deploy/grafana/provisioning:/etc/grafana/provisioning:ro');
  });
});

// --- docker-compose.yml -----------------------------------------------------------------------------

type PortEntry = string | number | { host_ip?: string; published?: string | number; target?: number };

interface ComposeService {
  image?: string;
  command?: string[] | string;
  ports?: PortEntry[];
  network_mode?: string;
  environment?: Record<string, string | number>;
  volumes?: string[];
}

function composeFile(): { services: Record<string, ComposeService> } {
  return parseYaml(readFileSync(path.join(root, 'docker-compose.yml'), 'utf8')) as { services: Record<string, ComposeService> };
}

const LOOPBACK = ['127.0.0.1', '::1', '[::1]'];

/** The host address of a published port, or null when the entry binds every address. */
function hostAddress(entry: PortEntry): string | null {
  if (typeof entry === 'number') return null;
  if (typeof entry === 'object') return entry.host_ip ?? null;
  // HOST_IP:HOST_PORT:CONTAINER_PORT; fewer parts bind every address. An IPv6 address is in brackets.
  const bracketed = /^(\[[^\]]+\]):/.exec(entry);
  if (bracketed !== null) return bracketed[1]!;
  const parts = entry.split(':');
  return parts.length >= 3 ? parts[0]! : null;
}

describe('docker-compose.yml', () => {
  it('binds every published port to loopback', () => {
    const services = composeFile().services;
    const published = Object.entries(services).flatMap(([name, service]) => (service.ports ?? []).map((entry) => ({ name, entry })));
    expect(published.length).toBeGreaterThan(0);

    for (const { name, entry } of published) {
      expect(LOOPBACK, `service ${name} publishes ${JSON.stringify(entry)} on a non-loopback address`).toContain(hostAddress(entry));
    }
  });

  it('uses no host network', () => {
    for (const [name, service] of Object.entries(composeFile().services)) {
      expect(service.network_mode, `network_mode of service ${name}`).not.toBe('host');
    }
  });

  it('defines the whole stack', () => {
    const services = composeFile().services;
    expect(Object.keys(services).sort()).toEqual(['grafana', 'kafka', 'migrate', 'postgres', 'prometheus', 'relay', 'schema-registry']);
    expect(services.postgres?.command).toContain('wal_level=logical');
    expect(services['schema-registry']?.image).toMatch(/^apicurio\/apicurio-registry:/);
    expect(services.relay?.environment?.OUTBOX_SCHEMA_REGISTRY_URL).toBe('http://schema-registry:8080/apis/ccompat/v7');
  });

  it('mounts files that exist', () => {
    for (const [name, service] of Object.entries(composeFile().services)) {
      for (const volume of service.volumes ?? []) {
        const source = volume.split(':')[0]!;
        if (!source.startsWith('.')) continue;
        expect(existsSync(path.join(root, source)), `service ${name} mounts ${source}`).toBe(true);
      }
    }
  });

  it('prometheus loads the alert rules', () => {
    const mounts = composeFile().services.prometheus?.volumes ?? [];
    expect(mounts).toContain('./deploy/prometheus/prometheus.yml:/etc/prometheus/prometheus.yml:ro');
    expect(mounts).toContain('./deploy/prometheus/alerts.yml:/etc/prometheus/alerts.yml:ro');
  });
});

// --- Kubernetes example -----------------------------------------------------------------------------

interface Probe {
  httpGet?: { path?: string; port?: string | number };
}

interface Container {
  name: string;
  ports?: { name?: string; containerPort: number }[];
  readinessProbe?: Probe;
  livenessProbe?: Probe;
}

describe('Kubernetes sidecar manifest', () => {
  it('relay container probes /readyz and /healthz', () => {
    const documents = parseAllDocuments(readFileSync(path.join(root, 'deploy/kubernetes/relay-sidecar.yaml'), 'utf8'));
    for (const document of documents) expect(document.errors, 'YAML errors in relay-sidecar.yaml').toEqual([]);

    const manifests = documents.map((document) => document.toJS() as { kind: string; spec?: { template?: { spec?: { containers?: Container[] } } } });
    const deployment = manifests.find((manifest) => manifest.kind === 'Deployment');
    const relay = deployment?.spec?.template?.spec?.containers?.find((container) => container.name === 'outbox-relay');
    expect(relay, 'container outbox-relay in the Deployment').toBeDefined();

    const portNames = (relay?.ports ?? []).flatMap((port) => [port.name, port.containerPort]);
    expect(relay?.readinessProbe?.httpGet?.path).toBe('/readyz');
    expect(relay?.livenessProbe?.httpGet?.path).toBe('/healthz');
    expect(portNames).toContain(relay?.readinessProbe?.httpGet?.port);
    expect(portNames).toContain(relay?.livenessProbe?.httpGet?.port);
  });
});
