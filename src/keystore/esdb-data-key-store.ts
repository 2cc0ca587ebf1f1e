// Data keys with EventStoreDB: a stream per subject (`authlogDataKey-<subject>`) holding one event,
// the wrapped key. Erasing soft-deletes the stream with a truncate-before, so the next scavenge
// removes the key's bytes from the node for good; until that scavenge the wrapped key is still on
// disk (the README's erasure section says so). A subject erased and used again gets a new key under
// a new id, which never opens what the old one sealed.
import { BACKWARDS, END, EventStoreDBClient, NO_STREAM, STREAM_EXISTS, StreamNotFoundError, WrongExpectedVersionError, jsonEvent } from '@eventstore/db-client';
import type { DataKeyStore, WrappedKey } from './data-key-store.ts';

export const DATA_KEY_STREAM_PREFIX = 'authlogDataKey-';
const streamOf = (subject: string) => `${DATA_KEY_STREAM_PREFIX}${subject}`;
/** Origin days are few and predictable: the store looks back this far for ones to forget. */
const ORIGIN_LOOKBACK_DAYS = 3 * 366;

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
      for await (const resolved of client.readStream<{ type: 'DataKeyCreated'; data: KeyEventData }>(streamOf(subject), { maxCount: 1, direction: BACKWARDS, fromRevision: END, deadline })) {
        const data = resolved.event?.data;
        if (data && data.subject === subject) return { subject, keyId: data.keyId, wrapped: Buffer.from(data.wrapped, 'base64url') };
      }
      return undefined;
    } catch (error) {
      if (error instanceof StreamNotFoundError) return undefined;
      throw error;
    }
  }

  return {
    get,
    async putIfAbsent(candidate) {
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
      const found: string[] = [];
      const cutoff = Date.parse(before.slice('origin:'.length));
      for (let day = 1; day <= ORIGIN_LOOKBACK_DAYS; day++) {
        const subject = `origin:${new Date(cutoff - day * 86_400_000).toISOString().slice(0, 10)}`;
        if (await get(subject)) found.push(subject);
      }
      return found;
    },
    async close() {
      await client.dispose();
    },
  };
}
