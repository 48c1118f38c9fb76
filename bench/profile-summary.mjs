// Summarizes the V8 CPU profiles (.cpuprofile, from node --cpu-prof) in a directory by self time:
// the functions where the sampled CPU time was spent, excluding time spent in their callees.
// Usage: node bench/profile-summary.mjs DIR [TOP]   prints JSON: busy ms, idle ms, top functions.
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';

const dir = process.argv[2];
const top = Number(process.argv[3] ?? 20);
if (!dir) throw new Error('usage: node bench/profile-summary.mjs DIR [TOP]');

const selfMs = new Map();
let idleMs = 0;
let busyMs = 0;
const files = readdirSync(dir).filter((name) => name.endsWith('.cpuprofile'));
for (const file of files) {
  const profile = JSON.parse(readFileSync(join(dir, file), 'utf8'));
  const byId = new Map(profile.nodes.map((node) => [node.id, node]));
  // timeDeltas[i] is the time between sample i-1 and sample i, in microseconds. It is charged to
  // the function at the top of the stack in sample i.
  profile.samples.forEach((id, i) => {
    const node = byId.get(id);
    const ms = (profile.timeDeltas[i] ?? 0) / 1000;
    const frame = node.callFrame;
    if (frame.functionName === '(idle)') { idleMs += ms; return; }
    busyMs += ms;
    const where = frame.url ? `${relative(process.cwd(), frame.url.replace(/^file:\/\//, ''))}:${frame.lineNumber + 1}` : '';
    const name = `${frame.functionName || '(anonymous)'}${where ? ` ${where}` : ''}`;
    selfMs.set(name, (selfMs.get(name) ?? 0) + ms);
  });
}

const functions = [...selfMs]
  .sort((a, b) => b[1] - a[1])
  .slice(0, top)
  .map(([name, ms]) => ({ name, self_ms: Math.round(ms), share_of_busy: Math.round((ms / busyMs) * 1000) / 10 }));
console.log(JSON.stringify({ files, busy_ms: Math.round(busyMs), idle_ms: Math.round(idleMs), functions }, null, 1));
