// Which event store and read model a process uses, from the configuration: the embedded
// default (SQLite file + in-process memory) or production (EventStoreDB + Redis). The server
// and the `authlog` command open them the same way, so both always see the same log.
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Config } from './config.ts';
import type { Clock } from './clock.ts';
import type { EventStore } from './store/event-store.ts';
import type { ReadModel } from './readmodel/read-model.ts';
import { openSqliteEventStore } from './store/sqlite-event-store.ts';
import { openEsdbEventStore } from './store/esdb-event-store.ts';
import { retainingEphemeralStreams } from './store/esdb-retention.ts';
import { DEFAULT_EPHEMERAL_GRACE_MS } from './events/ephemeral-streams.ts';
import { createMemoryReadModel } from './readmodel/memory-read-model.ts';
import { createRedisReadModel } from './readmodel/redis-read-model.ts';
import { resolveServerSecret, type ServerSecret } from './server-secret.ts';
import { createPersonalData, type PersonalData } from './crypto/personal-data.ts';
import type { DataKeyStore } from './keystore/data-key-store.ts';
import { openSqliteDataKeyStore } from './keystore/sqlite-data-key-store.ts';
import { openEsdbDataKeyStore } from './keystore/esdb-data-key-store.ts';
import { sealingPersonalData } from './store/sealing-store.ts';
import { secretIdOf } from './crypto/secret-id.ts';
import { chainingAppends } from './integrity/chaining-store.ts';
import { checkpointKeyring, type CheckpointKeyring } from './integrity/checkpoint-keys.ts';

export const sqlitePath = (config: Pick<Config, 'AUTHLOG_DATA_DIR'>): string => join(config.AUTHLOG_DATA_DIR, 'events.db');

export function describeEventStore(config: Pick<Config, 'EVENTSTORE_URL' | 'AUTHLOG_DATA_DIR'>): string {
  if (!config.EVENTSTORE_URL) return `sqlite ${sqlitePath(config)}`;
  // The URL may carry credentials: show the host only.
  const url = new URL(config.EVENTSTORE_URL);
  return `eventstoredb ${url.host}`;
}

export function openEventStore(
  config: Pick<Config, 'EVENTSTORE_URL' | 'EVENTSTORE_TIMEOUT_MS' | 'AUTHLOG_DATA_DIR'> & Partial<Pick<Config, 'EPHEMERAL_RETENTION_HOURS'>>,
  log?: (msg: string, fields?: Record<string, unknown>) => void,
): EventStore {
  if (config.EVENTSTORE_URL) {
    const esdb = openEsdbEventStore(config.EVENTSTORE_URL, { callTimeoutMs: config.EVENTSTORE_TIMEOUT_MS, ...(log ? { logger: log } : {}) });
    // Expired CLI attempts and codes age out on the server ($maxAge), as SQLite prunes them.
    return retainingEphemeralStreams(esdb, { graceMs: (config.EPHEMERAL_RETENTION_HOURS ?? DEFAULT_EPHEMERAL_GRACE_MS / 3600_000) * 3600_000, ...(log ? { log } : {}) });
  }
  mkdirSync(config.AUTHLOG_DATA_DIR, { recursive: true, mode: 0o700 });
  // The same deadline as an EventStoreDB call: how long an append waits for another process's lock.
  return openSqliteEventStore(sqlitePath(config), { busyTimeoutMs: config.EVENTSTORE_TIMEOUT_MS });
}

export function openReadModel(config: Pick<Config, 'REDIS_URL' | 'REDIS_PREFIX'>, clock: Clock): ReadModel {
  if (config.REDIS_URL) return createRedisReadModel({ url: config.REDIS_URL, prefix: config.REDIS_PREFIX, now: clock });
  return createMemoryReadModel({ now: clock });
}

type LogConfig = Pick<Config, 'EVENTSTORE_URL' | 'EVENTSTORE_TIMEOUT_MS' | 'AUTHLOG_DATA_DIR' | 'AUTHLOG_SECRET' | 'AUTHLOG_SECRET_PREVIOUS' | 'ORIGIN_RETENTION_DAYS'> & Partial<Pick<Config, 'EPHEMERAL_RETENTION_HOURS'>>;

/** The data keys live apart from the log: their own file beside it, or their own streams. */
export function openDataKeyStore(config: Pick<Config, 'EVENTSTORE_URL' | 'EVENTSTORE_TIMEOUT_MS' | 'AUTHLOG_DATA_DIR'>): DataKeyStore {
  if (config.EVENTSTORE_URL) return openEsdbDataKeyStore(config.EVENTSTORE_URL, { callTimeoutMs: config.EVENTSTORE_TIMEOUT_MS });
  mkdirSync(config.AUTHLOG_DATA_DIR, { recursive: true, mode: 0o700 });
  return openSqliteDataKeyStore(join(config.AUTHLOG_DATA_DIR, 'keys.db'));
}

export interface OpenLog {
  /** Appends seal personal data (store/sealing-store.ts); reads return it sealed. */
  store: EventStore;
  personal: PersonalData;
  secret: ServerSecret;
  /** Signs the log's checkpoints and integrity records (integrity/checkpoint-keys.ts). */
  checkpointKeys: CheckpointKeyring;
  close(): Promise<void>;
}

/**
 * The log as every process (server and `authlog` command) opens it: the event store behind the
 * sealing of personal data, and below that the chaining of every event to its predecessor (over
 * what is stored: ciphertext included).
 */
export function openLog(config: LogConfig, log?: (msg: string, fields?: Record<string, unknown>) => void, now?: () => number): OpenLog {
  const secret = resolveServerSecret(config);
  const keys = openDataKeyStore(config);
  const personal = createPersonalData(secret.value, keys, now, secret.previous);
  const raw = openEventStore(config, log);
  const store = sealingPersonalData(chainingAppends(raw), personal, { originRetentionDays: config.ORIGIN_RETENTION_DAYS, secretId: secretIdOf(secret.value) });
  return {
    store,
    personal,
    secret,
    checkpointKeys: checkpointKeyring(secret),
    async close() {
      const closed = await Promise.allSettled([raw.close(), keys.close()]);
      const failed = closed.find((c) => c.status === 'rejected');
      if (failed) throw failed.reason;
    },
  };
}
