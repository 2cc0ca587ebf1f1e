// Rotating and revoking a project's API keys and rotating its signing key: decided on the
// project stream (project-keys.ts), so the audit and `events tail` show who did it and when. A
// new key is drawn here, only its digest goes into the event, and it is handed back once.
import { randomUUID } from 'node:crypto';
import type { AppContext, Origin } from '../../app-context.ts';
import { newApiKey, type ApiKeyKind } from '../../crypto/codes.ts';
import type { RefreshTokenRotationMode } from '../../events/project-events.ts';
import type { CommandContext } from '../handler.ts';
import { projects } from '../aggregates.ts';
import type { ProjectCommand } from './project-decider.ts';
import { isKeyLive } from './project-keys.ts';
import type { AccessLevel } from '../../projections/project-projection.ts';

type Ctx = CommandContext & Pick<AppContext, 'hasher'>;

const KEY_KIND: Record<AccessLevel, ApiKeyKind> = { client: 'publishable-client', server: 'secret-server', admin: 'super-secret-admin' };

export interface RotatedKey {
  id: string;
  kind: AccessLevel;
  /** The new key: shown only now. */
  key: string;
  previous_key_id: string | null;
  /** When the previous key stops working (epoch ms); null when there was none. */
  previous_key_expires_at_millis: number | null;
}

export interface ProjectKeyListing {
  id: string;
  kind: AccessLevel;
  /** current, or retiring: rotated out, working until expires_at_millis. */
  status: 'current' | 'retiring';
  expires_at_millis: number | null;
}

const decide = (ctx: Ctx, command: Exclude<ProjectCommand, { type: 'CreateProject' }>, origin: Origin) =>
  projects.handle(ctx, command.projectId, () => command, { origin, projectId: command.projectId });

/** `byKeyId`: the key the caller authenticated with (a key in its grace may not rotate). */
export async function rotateProjectKey(ctx: Ctx, input: { projectId: string; kind: AccessLevel; graceMs: number; byKeyId?: string }, origin: Origin): Promise<RotatedKey> {
  const key = newApiKey(KEY_KIND[input.kind]);
  const newKey = { id: randomUUID(), digest: ctx.hasher.digest('api-key', key) };
  const result = await decide(ctx, { type: 'RotateKey', projectId: input.projectId, kind: input.kind, newKey, graceMs: input.graceMs, nowMs: ctx.clock(), byKeyId: input.byKeyId }, origin);
  const event = result.appended[0];
  const data = event?.type === 'ProjectKeyRotated' ? event.data : undefined;
  return {
    id: newKey.id,
    kind: input.kind,
    key,
    previous_key_id: data?.previousKey?.id ?? null,
    previous_key_expires_at_millis: data?.previousKeyEndsAtMillis ?? null,
  };
}

/** Ends the key at once; false when it had already stopped working. */
export async function revokeProjectKey(ctx: Ctx, input: { projectId: string; keyId: string; byKeyId?: string }, origin: Origin): Promise<boolean> {
  const result = await decide(ctx, { type: 'RevokeKey', projectId: input.projectId, keyId: input.keyId, nowMs: ctx.clock(), byKeyId: input.byKeyId }, origin);
  return result.appended.length > 0;
}

export async function rotateSigningKey(ctx: Ctx, projectId: string, origin: Origin): Promise<{ generation: number; previousVerifiesUntilMillis: number }> {
  const result = await decide(ctx, { type: 'RotateSigningKey', projectId, nowMs: ctx.clock() }, origin);
  const event = result.appended[0];
  if (event?.type !== 'ProjectSigningKeyRotated') throw new Error('signing-key rotation appended nothing');
  return { generation: event.data.generation, previousVerifiesUntilMillis: event.data.previousVerifiesUntilMillis };
}

export async function setRefreshTokenRotation(ctx: Ctx, projectId: string, rotation: RefreshTokenRotationMode, origin: Origin): Promise<boolean> {
  return (await decide(ctx, { type: 'SetRefreshTokenRotation', projectId, rotation }, origin)).appended.length > 0;
}

/** The keys that work now, from the project's own stream (never their values: only digests exist). */
export async function listProjectKeys(ctx: Pick<AppContext, 'store' | 'clock'>, projectId: string): Promise<ProjectKeyListing[] | undefined> {
  const state = await projects.load(ctx, projectId);
  if (!state.exists) return undefined;
  const now = ctx.clock();
  return state.keys
    .filter((k) => isKeyLive(k, now))
    .map((k) => ({ id: k.id, kind: k.kind, status: k.endsAtMillis === undefined ? 'current' : 'retiring', expires_at_millis: k.endsAtMillis ?? null }));
}
