import { readFileSync } from 'node:fs';

/** Samples a process's resident memory from /proc until stopped, and returns the peak in bytes. */
export function watchResidentMemory(pid: number, intervalMs = 100): { stop(): number } {
  let peak = 0;
  const sample = (): void => {
    try {
      const status = readFileSync(`/proc/${pid}/status`, 'utf8');
      const match = /VmHWM:\s+(\d+) kB/.exec(status) ?? /VmRSS:\s+(\d+) kB/.exec(status);
      if (match) peak = Math.max(peak, Number(match[1]) * 1024);
    } catch {
      // The process has exited; keep the last peak.
    }
  };
  sample();
  const timer = setInterval(sample, intervalMs);
  return {
    stop() {
      sample();
      clearInterval(timer);
      return peak;
    },
  };
}
