// Everything a command or query needs, built once by the composition root (main.ts) and passed
// down; nothing reaches for a global.
import type { Config } from './config.ts';
import type { Clock } from './clock.ts';
import type { Hasher } from './crypto/digests.ts';
import type { AccessTokenSigner } from './crypto/access-tokens.ts';
import type { Logger } from './log.ts';
import type { Mailer } from './mail/mailer.ts';
import type { Metrics } from './metrics.ts';
import type { PersonalData } from './crypto/personal-data.ts';
import type { ProjectionStatus, WriteVisibility } from './projection-ports.ts';
import type { CheckpointKeyring } from './integrity/checkpoint-keys.ts';
import type { ReadModel } from './readmodel/read-model.ts';
import type { Actor } from './events/actor.ts';
import type { EventMetadata, EventStore } from './store/event-store.ts';

export interface AppContext {
  config: Config;
  store: EventStore;
  readModel: ReadModel;
  /** Commands wait through WriteVisibility alone (commands/aggregate.ts); the readiness check reads the status. */
  projections: WriteVisibility & ProjectionStatus;
  hasher: Hasher;
  clock: Clock;
  tokens: AccessTokenSigner;
  mailer: Mailer;
  log: Logger;
  metrics: Metrics;
  /** Seals and opens personal data; erases subjects (crypto-shredding). */
  personal: PersonalData;
  /** Signs the log's checkpoints; its public keys are published (GET /api/v1/audit/checkpoint-keys). */
  checkpointKeys: CheckpointKeyring;
}

/** Who asked and from where: recorded on every event a request causes. */
export interface Origin {
  projectId?: string;
  actor: Actor;
  requestId?: string;
  ip?: string;
  userAgent?: string;
}

export const systemOrigin = (id: string, projectId?: string): Origin => ({ actor: { kind: 'system', id }, projectId });

export function metadataFor(origin: Origin, nowMs: number): EventMetadata {
  return {
    projectId: origin.projectId,
    actor: origin.actor,
    requestId: origin.requestId,
    ip: origin.ip,
    userAgent: origin.userAgent,
    occurredAt: new Date(nowMs).toISOString(),
    correlationId: origin.requestId,
  };
}
