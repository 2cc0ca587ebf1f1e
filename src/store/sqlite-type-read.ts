// Reading `$all` through the (type, position) index, for a filter whose event types are few among
// many (the impersonation audit): one cursor per event type, each walking its stretch of the index
// in position order, merged by position. Only this read names the index (INDEXED BY): every other
// read, the subscriptions' pages above all, stays on the primary key, since a planner free to pick
// the type index would sort each page of a category to return it in position order.
import type Database from 'better-sqlite3';
import type { AllFilter, RecordedEvent } from './event-store.ts';
import { filterSql, toRecorded, type EventRow } from './sqlite-rows.ts';

export const TYPE_INDEX = 'events_type_position';
const PAGE = 1000;

type Prepare = (sql: string) => Database.Statement;

/**
 * The smallest string above every string that starts with `prefix` (SQLite compares text as UTF-8
 * bytes, which is code-point order), or undefined when there is none: the empty prefix, one of
 * U+10FFFF only, or one holding a lone surrogate (which has no UTF-8 form to compare).
 */
export function prefixUpperBound(prefix: string): string | undefined {
  const points = [...prefix];
  if (points.some((p) => (p.codePointAt(0) ?? 0) >= 0xd800 && (p.codePointAt(0) ?? 0) <= 0xdfff)) return undefined;
  while (points.length > 0) {
    const last = points.pop()?.codePointAt(0) ?? 0x10ffff;
    if (last < 0x10ffff) return points.join('') + String.fromCodePoint(last === 0xd7ff ? 0xe000 : last + 1);
  }
  return undefined;
}

/** The type ranges of the filter's prefixes, or undefined when one of them has no upper bound. */
function typeRanges(prefixes: readonly string[]): { low: string; high: string }[] | undefined {
  const ranges: { low: string; high: string }[] = [];
  for (const low of prefixes) {
    const high = prefixUpperBound(low);
    if (high === undefined) return undefined;
    ranges.push({ low, high });
  }
  return ranges;
}

/** The distinct types of the log in [low, high): one index seek per type, never a walk of the range. */
function typesIn(prepare: Prepare, low: string, high: string): string[] {
  const first = prepare(`SELECT type FROM events INDEXED BY ${TYPE_INDEX} WHERE type >= ? AND type < ? ORDER BY type LIMIT 1`);
  const next = prepare(`SELECT type FROM events INDEXED BY ${TYPE_INDEX} WHERE type > ? AND type < ? ORDER BY type LIMIT 1`);
  const types: string[] = [];
  let row = first.get(low, high) as { type: string } | undefined;
  while (row) {
    types.push(row.type);
    row = next.get(row.type, high) as { type: string } | undefined;
  }
  return types;
}

export function hasTypeIndex(prepare: Prepare): boolean {
  return prepare("SELECT 1 FROM sqlite_master WHERE type = 'index' AND name = ?").get(TYPE_INDEX) !== undefined;
}

/**
 * The events matching `filter` with position in (after, head], in position order, read through the
 * type index; undefined when the filter's types cannot be turned into index ranges (the caller
 * then walks positions). `head` bounds the read: an event appended after it began is not seen.
 */
export function readByType(prepare: Prepare, filter: AllFilter, after: bigint, head: bigint): Iterable<RecordedEvent> | undefined {
  const ranges = filter.eventTypes ? typeRanges(filter.eventTypes) : undefined;
  if (!ranges) return undefined;
  const types = [...new Set(ranges.flatMap((r) => typesIn(prepare, r.low, r.high)))];
  const streams = filterSql(filter.streamPrefixes ? { streamPrefixes: filter.streamPrefixes } : undefined);
  const page = prepare(
    `SELECT * FROM events INDEXED BY ${TYPE_INDEX} WHERE type = ? AND position > ? AND position <= ? AND ${streams.sql} ORDER BY position LIMIT ?`,
  );
  return merged(
    types.map((type) => {
      let cursor = after;
      return () => {
        const rows = page.all(type, cursor, head, ...streams.params, PAGE) as EventRow[];
        const last = rows[rows.length - 1];
        if (last) cursor = last.position;
        return { events: rows.map(toRecorded), more: rows.length === PAGE };
      };
    }),
  );
}

/** Merges per-type sources, each in position order, into one in position order (a handful of types: a linear pick). */
function* merged(sources: (() => { events: RecordedEvent[]; more: boolean })[]): Generator<RecordedEvent> {
  const heads = sources.map((next) => ({ next, events: [] as RecordedEvent[], at: 0, more: true }));
  const fill = (h: (typeof heads)[number]): void => {
    if (h.at < h.events.length || !h.more) return;
    const page = h.next();
    h.events = page.events;
    h.at = 0;
    h.more = page.more;
  };
  for (;;) {
    let best: (typeof heads)[number] | undefined;
    for (const h of heads) {
      fill(h);
      const event = h.events[h.at];
      if (event && (!best || event.position < (best.events[best.at] as RecordedEvent).position)) best = h;
    }
    if (!best) return;
    yield best.events[best.at++] as RecordedEvent;
  }
}
