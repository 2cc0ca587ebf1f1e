// Percentiles over latency samples, shared by the load generator and the lag measurement.

/** Nearest-rank percentile of an ascending array. */
export function percentile(sorted: Float64Array, p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const index = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[index]!;
}

/** Latencies in a growable typed array (a 5 s pass can hold ~50k of them). */
export class Latencies {
  private values = new Float64Array(1 << 16);
  length = 0;
  push(ms: number): void {
    if (this.length === this.values.length) {
      const bigger = new Float64Array(this.values.length * 2);
      bigger.set(this.values);
      this.values = bigger;
    }
    this.values[this.length++] = ms;
  }
  sorted(): Float64Array {
    return this.values.slice(0, this.length).sort();
  }
}
