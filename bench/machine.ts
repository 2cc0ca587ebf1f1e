// Whole-machine CPU use over a pass, from /proc/stat (Linux; elsewhere nothing is reported), so
// that a pass disturbed by something else on the machine, or by the hypervisor taking CPU away
// (steal), shows in its line instead of passing for the service's figure.
import { readFileSync } from 'node:fs';

interface CpuTimes {
  busy: number;
  steal: number;
  total: number;
}

function read(): CpuTimes | undefined {
  try {
    const line = readFileSync('/proc/stat', 'utf8').split('\n')[0] ?? '';
    const [label, ...fields] = line.trim().split(/\s+/);
    if (label !== 'cpu') return undefined;
    // user nice system idle iowait irq softirq steal (guest time is already in user)
    const [user = 0, nice = 0, system = 0, idle = 0, iowait = 0, irq = 0, softirq = 0, steal = 0] = fields.map(Number);
    return { busy: user + nice + system + irq + softirq, steal, total: user + nice + system + idle + iowait + irq + softirq + steal };
  } catch {
    return undefined;
  }
}

export interface MachineCpu {
  /** CPU busy on the whole machine, in % of one core (2 cores fully busy = 200). */
  busyPct: number;
  /** CPU the hypervisor took away, in % of one core. */
  stealPct: number;
}

/** Starts a measurement; the returned function ends it. */
export function machineCpu(cores: number): () => MachineCpu | undefined {
  const start = read();
  return () => {
    const end = read();
    if (!start || !end || end.total <= start.total) return undefined;
    const total = end.total - start.total;
    return { busyPct: ((end.busy - start.busy) / total) * 100 * cores, stealPct: ((end.steal - start.steal) / total) * 100 * cores };
  };
}
