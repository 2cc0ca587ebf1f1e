// The rows of the events table and the SQL that selects them: an `$all` filter as a WHERE
// fragment, and a row as the RecordedEvent of the port.
import type { AllFilter, EventMetadata, RecordedEvent } from './event-store.ts';

export interface EventRow {
  position: bigint;
  stream_id: string;
  revision: bigint;
  event_id: string;
  type: string;
  data: string;
  metadata: string;
}

/**
 * Builds the WHERE fragment for a filter. Prefixes are compared on the UTF-8 bytes so the test is
 * exact for any string; the substr() form also keeps SQLite off the (stream_id, revision) index,
 * which would make it sort a whole category to return one page in position order.
 */
export function filterSql(filter: AllFilter | undefined): { sql: string; params: unknown[] } {
  const clauses: string[] = [];
  const params: unknown[] = [];
  const prefixClause = (column: string, prefixes: readonly string[]): string => {
    if (prefixes.length === 0) return '0';
    const one = `substr(CAST(${column} AS BLOB), 1, ?) = ?`;
    for (const prefix of prefixes) {
      const bytes = Buffer.from(prefix, 'utf8');
      params.push(bytes.length, bytes);
    }
    return '(' + prefixes.map(() => one).join(' OR ') + ')';
  };
  if (filter?.streamPrefixes) clauses.push(prefixClause('stream_id', filter.streamPrefixes));
  if (filter?.eventTypes) clauses.push(prefixClause('type', filter.eventTypes));
  return { sql: clauses.length ? clauses.join(' AND ') : '1', params };
}

export function toRecorded(row: EventRow): RecordedEvent {
  return {
    id: row.event_id,
    type: row.type,
    data: JSON.parse(row.data) as unknown,
    metadata: JSON.parse(row.metadata) as EventMetadata,
    streamId: row.stream_id,
    revision: row.revision,
    position: row.position,
  };
}
