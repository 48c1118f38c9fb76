import type pg from 'pg';

/** One scrape of /metrics, with lookups by metric name and label text. */
export class Scrape {
  private constructor(readonly text: string) {}

  static async of(port: number): Promise<Scrape> {
    const response = await fetch(`http://127.0.0.1:${port}/metrics`);
    if (!response.ok) throw new Error(`GET /metrics returned ${response.status}`);
    return new Scrape(await response.text());
  }

  /** Sample lines of `name` (exactly that name, so `x` does not match `x_total`). */
  lines(name: string): string[] {
    return this.text.split('\n').filter((line) => line.startsWith(`${name}{`) || line.startsWith(`${name} `));
  }

  value(name: string, labels = ''): number | undefined {
    const line = this.lines(name).find((l) => l.includes(labels));
    return line === undefined ? undefined : Number(line.slice(line.lastIndexOf(' ') + 1));
  }

  /** Sum over all label values, as the dashboard shows a counter. */
  sum(name: string): number {
    return this.lines(name).reduce((total, line) => total + Number(line.slice(line.lastIndexOf(' ') + 1)), 0);
  }

  /** Returns the value of `label` on the sample of `name` whose value is 1, such as the current state. */
  labelWhereOne(name: string, label: string): string | undefined {
    const line = this.lines(name).find((l) => l.endsWith(' 1'));
    return line === undefined ? undefined : new RegExp(`${label}="([^"]*)"`).exec(line)?.[1];
  }

  hasHelp(name: string): boolean {
    return this.text.includes(`# HELP ${name} `);
  }
}

/** Ends the relay's replication connection from the server side, the way a failover or an admin would. */
export async function terminateWalSender(sql: pg.Client, slot: string): Promise<number> {
  const result = await sql.query(`SELECT pg_terminate_backend(active_pid) AS done FROM pg_replication_slots WHERE slot_name = $1 AND active_pid IS NOT NULL`, [slot]);
  if (result.rows.length !== 1) throw new Error(`slot ${slot} has no active walsender to terminate`);
  return result.rows.length;
}
