// The impersonation audit reads the log by type (the store's type index): it must give the rows a
// walk of every position gives, for every filter and `as_of`.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { auditImpersonations, type AuditFilters } from '../src/audit/impersonation-audit.ts';
import type { PersonalData } from '../src/crypto/personal-data.ts';
import { openSqliteEventStore } from '../src/store/sqlite-event-store.ts';
import { writeBulkAuditLog, writeBulkSessionLog } from './support/bulk-log.ts';
import { walkingEveryPosition } from './support/walking-store.ts';

const NOW = Date.parse('2026-11-01T10:00:00.000Z');

// The bulk logs hold addresses in plain text (no sealing store wrote them): shown as they are.
const plainPersonal = { show: async (value: unknown) => value } as unknown as PersonalData;

for (const [name, write] of [
  ['a log of sessions only', (path: string) => writeBulkSessionLog(path, 3000, NOW)],
  ['a log where impersonations are few among other events', (path: string) => writeBulkAuditLog(path, 20_000, 300, NOW)],
] as const) {
  test(`the audit read by type gives the rows and the count a walk of every position gives, for each filter and as_of, over ${name}`, async () => {
    const dir = mkdtempSync(join(tmpdir(), 'authlog-audit-by-type-'));
    try {
      const bulk = write(join(dir, 'events.db'));
      const store = openSqliteEventStore(bulk.path);
      try {
        const span = bulk.events * 10;
        const filters: AuditFilters[] = [
          {},
          { projectId: bulk.projectId },
          { userId: bulk.userId },
          { asOfMs: NOW - span / 2 },
          { sinceMs: NOW - span / 3, untilMs: NOW - span / 4 },
          { projectId: 'another' },
        ];
        for (const filters_ of filters) {
          const narrow = await auditImpersonations(store, plainPersonal, filters_, NOW);
          const walked = await auditImpersonations(walkingEveryPosition(store), plainPersonal, filters_, NOW);
          assert.equal(narrow, walked, JSON.stringify(filters_));
          if (Object.keys(filters_).length === 0) assert.ok(narrow.rows.length > 0, 'the unfiltered audit has rows');
        }
      } finally {
        await store.close();
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
}

test.run();
