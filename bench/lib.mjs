// Helpers shared by the benchmark's Node programs.

/** Parses `--name value` pairs into an object; every name must appear in `defaults`. */
export function parseArgs(argv, defaults) {
  const result = { ...defaults };
  for (let i = 0; i < argv.length; i += 2) {
    const name = argv[i]?.replace(/^--/, '');
    if (!name || !(name in defaults) || i + 1 >= argv.length) {
      throw new Error(`invalid argument ${JSON.stringify(argv[i])}: expected one of ${Object.keys(defaults).map((n) => `--${n} VALUE`).join(', ')}`);
    }
    result[name] = argv[i + 1];
  }
  return result;
}

/** Returns the q-quantile (0..1) of an ascending array by the nearest-rank method, or null when empty. */
export function percentile(sorted, q) {
  if (sorted.length === 0) return null;
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1));
  return Math.round(sorted[rank] * 1000) / 1000;
}

/** mulberry32: a small seeded generator, so that a seed repeats a run's choices. */
export function seededRandom(seed) {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Turns a Node-style callback API into a promise. */
export function fromCallback(run) {
  return new Promise((resolve, reject) => run((error, value) => (error ? reject(error) : resolve(value))));
}

