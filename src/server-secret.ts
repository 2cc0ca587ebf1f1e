// The server secret keys every HMAC digest and derives every access-token signing key. The
// embedded default keeps it in the data dir (mode 0600), generated on first use, so that
// `npm start` needs no setup; production (EventStoreDB) requires AUTHLOG_SECRET, because a
// secret that lives on one machine's disk would differ between instances.
import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ConfigError, type Config } from './config.ts';

export interface ServerSecret {
  value: string;
  /** Secrets rotated out (AUTHLOG_SECRET_PREVIOUS): what they made is still found, nothing new is made. */
  previous: string[];
  /** Where it came from, for the start-up log line (never the value). */
  source: 'environment' | 'data-dir' | 'generated';
  path?: string;
}

export function resolveServerSecret(config: Pick<Config, 'AUTHLOG_SECRET' | 'AUTHLOG_SECRET_PREVIOUS' | 'AUTHLOG_DATA_DIR' | 'EVENTSTORE_URL'>): ServerSecret {
  const previous = config.AUTHLOG_SECRET_PREVIOUS ? [config.AUTHLOG_SECRET_PREVIOUS] : [];
  // A previous secret only makes sense next to the one that replaced it.
  if (previous.length > 0 && !config.AUTHLOG_SECRET) throw new ConfigError('Invalid configuration: AUTHLOG_SECRET_PREVIOUS needs AUTHLOG_SECRET (the new secret)');
  if (config.AUTHLOG_SECRET) return { value: config.AUTHLOG_SECRET, previous, source: 'environment' };
  if (config.EVENTSTORE_URL) {
    throw new ConfigError('Invalid configuration: AUTHLOG_SECRET is required with EVENTSTORE_URL (every instance must share it; e.g. `openssl rand -base64 48`)');
  }
  const path = join(config.AUTHLOG_DATA_DIR, 'secret');
  const existing = readSecretFile(path);
  if (existing) return { value: existing, previous, source: 'data-dir', path };
  mkdirSync(config.AUTHLOG_DATA_DIR, { recursive: true, mode: 0o700 });
  const value = randomBytes(48).toString('base64url');
  try {
    // 'wx': of two processes starting on a new data dir at once, exactly one writes the file.
    writeFileSync(path, value + '\n', { flag: 'wx', mode: 0o600 });
    return { value, previous, source: 'generated', path };
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    const written = readSecretFile(path);
    if (!written) throw new ConfigError(`Invalid configuration: ${path} exists but holds no secret`);
    return { value: written, previous, source: 'data-dir', path };
  }
}

function readSecretFile(path: string): string | undefined {
  try {
    const value = readFileSync(path, 'utf8').trim();
    if (value.length < 32) throw new ConfigError(`Invalid configuration: ${path} holds fewer than 32 characters; delete it to generate a new secret`);
    return value;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
}
