// The digest of a read model (ReadModel.digest): the same events give the same digest in the
// memory and the Redis adapter, so a read model can be compared with a fresh replay.
import { createHash } from 'node:crypto';

/** One live entry as the digest sees it. Both adapters feed these to `digestEntries`. */
export type DigestEntry =
  | { key: string; type: 'string'; value: string }
  | { key: string; type: 'hash'; fields: ReadonlyArray<readonly [string, string]> }
  | { key: string; type: 'set'; members: readonly string[] };

export const byCodeUnit = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

/**
 * sha256 hex over a canonical serialization: entries sorted by key, hash fields sorted by
 * name, set members sorted; one JSON line per entry (JSON escapes newlines, so lines cannot
 * run into each other). Shared by the memory and Redis adapters so that the same events give
 * the same digest in both.
 */
export function digestEntries(entries: Iterable<DigestEntry>): string {
  const sorted = [...entries].sort((a, b) => byCodeUnit(a.key, b.key));
  const hash = createHash('sha256');
  for (const entry of sorted) {
    let line: unknown[];
    switch (entry.type) {
      case 'string':
        line = [entry.key, 's', entry.value];
        break;
      case 'hash':
        line = [entry.key, 'h', [...entry.fields].sort((a, b) => byCodeUnit(a[0], b[0]))];
        break;
      case 'set':
        line = [entry.key, 'S', [...entry.members].sort(byCodeUnit)];
        break;
    }
    hash.update(JSON.stringify(line) + '\n');
  }
  return hash.digest('hex');
}

