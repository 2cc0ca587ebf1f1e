// Data keys with EventStoreDB: a stream per subject (`authlogDataKey-<subject>`) holding one event,
// the wrapped key. Erasing soft-deletes the stream with a truncate-before, so the next scavenge
// removes the key's bytes from the node for good; until that scavenge the wrapped key is still on
// disk (the README's erasure section says so). A subject erased and used again gets a new key under
// a new id, which never opens what the old one sealed.
import { ANY, BACKWARDS, END, START, EventStoreDBClient, NO_STREAM, STREAM_EXISTS, StreamNotFoundError, WrongExpectedVersionError, jsonEvent } from '@eventstore/db-client';
import type { DataKeyStore, WrappedKey } from './data-key-store.ts';

export const DATA_KEY_STREAM_PREFIX = 'authlogDataKey-';
const streamOf = (subject: string) => `${DATA_KEY_STREAM_PREFIX}${subject}`;
/**
 * The names of the origin-day subjects ever keyed, so the retention sweep finds them without a
 * scan of $all (client reads of $all cannot filter). Day names only: nothing personal.
 */
const ORIGIN_INDEX = `${DATA_KEY_STREAM_PREFIX}$origin-days`;

interface KeyEventData {
  subject: string;
  keyId: string;
  wrapped: string;
  [key: string]: string;
}

export function openEsdbDataKeyStore(url: string, options: { callTimeoutMs?: number } = {}): DataKeyStore {
  const client = EventStoreDBClient.connectionString(url);
  const deadline = options.callTimeoutMs ?? 2500;

  async function get(subject: string): Promise<WrappedKey | undefined> {
    try {
      // The newest event: the key as first written, or rewrapped under a newer secret since.
      // Read to its end (one event) rather than returning from inside the loop: a read call left
      // open keeps the client from disposing.
      let found: WrappedKey | undefined;
      for await (const resolved of client.readStream<{ type: 'DataKeyCreated'; data: KeyEventData }>(streamOf(subject), { maxCount: 1, direction: BACKWARDS, fromRevision: END, deadline })) {
        const data = resolved.event?.data;
        if (data && data.subject === subject) found = { subject, keyId: data.keyId, wrapped: Buffer.from(data.wrapped, 'base64url') };
      }
      return found;
    } catch (error) {
      if (error instanceof StreamNotFoundError) return undefined;
      throw error;
    }
  }

  return {
    get,
    async putIfAbsent(candidate) {
      // Indexed before it exists: a crash in between leaves a name without a key, never a key the
      // retention sweep cannot find.
      if (candidate.subject.startsWith('origin:') && !(await get(candidate.subject))) {
        await client.appendToStream(ORIGIN_INDEX, jsonEvent({ type: 'OriginDayKeyed', data: { subject: candidate.subject } }), { expectedRevision: ANY, deadline });
      }
      try {
        await client.appendToStream(
          streamOf(candidate.subject),
          jsonEvent({ type: 'DataKeyCreated', data: { subject: candidate.subject, keyId: candidate.keyId, wrapped: candidate.wrapped.toString('base64url') } satisfies KeyEventData }),
          { expectedRevision: NO_STREAM, deadline },
        );
        return candidate;
      } catch (error) {
        if (!(error instanceof WrongExpectedVersionError)) throw error;
        const held = await get(candidate.subject);
        if (!held) throw new Error(`data key store: ${candidate.subject} has a stream but no key`);
        return held;
      }
    },
    async rewrap(key) {
      await client.appendToStream(
        streamOf(key.subject),
        jsonEvent({ type: 'DataKeyCreated', data: { subject: key.subject, keyId: key.keyId, wrapped: key.wrapped.toString('base64url') } satisfies KeyEventData }),
        { expectedRevision: STREAM_EXISTS, deadline },
      );
    },
    async erase(subjectList) {
      const erased: string[] = [];
      for (const subject of subjectList) {
        if (!(await get(subject))) continue;
        await client.deleteStream(streamOf(subject), { deadline });
        erased.push(subject);
      }
      return erased;
    },
    async listBefore(prefix, before) {
      if (prefix !== 'origin:') throw new Error('esdb data key store: only origin subjects are listed');
      const found = new Set<string>();
      try {
        for await (const resolved of client.readStream<{ type: 'OriginDayKeyed'; data: { subject: string } }>(ORIGIN_INDEX, { deadline: deadline * 4 })) {
          const subject = resolved.event?.data.subject;
          if (subject !== undefined && subject < before) found.add(subject);
        }
      } catch (error) {
        if (!(error instanceof StreamNotFoundError)) throw error;
      }
      return [...found].sort();
    },
    async *list() {
      // No index names every subject, and client reads of $all cannot filter: the whole of $all
      // is read for the key streams' names (an operator's occasional command, not a request
      // path). A deleted (erased) stream's events stay in $all until a scavenge, so each name
      // found is looked up again, and an erased one answers nothing.
      const names = new Set<string>();
      for await (const resolved of client.readAll({ fromPosition: START, resolveLinkTos: false, deadline: deadline * 20 })) {
        const streamId = resolved.event?.streamId;
        if (streamId?.startsWith(DATA_KEY_STREAM_PREFIX) && streamId !== ORIGIN_INDEX) names.add(streamId.slice(DATA_KEY_STREAM_PREFIX.length));
      }
      for (const subject of names) {
        const key = await get(subject);
        if (key) yield key;
      }
    },
    async close() {
      await client.dispose();
    },
  };
}
