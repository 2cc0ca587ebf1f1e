// The lifecycle of a project's API keys, pure: each kind (client, server, admin) has one current
// key, and any number of keys rotated out that keep working until the end of their grace. A
// revoked key is gone at once. Who may change keys is decided here too: a key still in its grace
// may authenticate, but not rotate or revoke (a thief holding a rotated-out key must not be able
// to mint the next key or end the owner's new one); access level is checked by the HTTP layer.
import type { EventData } from '../../events/catalogue.ts';
import { knownError } from '../../errors.ts';
import type { AccessLevel } from '../../projections/project-projection.ts';

export interface ProjectKey {
  id: string;
  digest: string;
  kind: AccessLevel;
  /** undefined: the kind's current key; otherwise it works while now < endsAtMillis. */
  endsAtMillis: number | undefined;
}

/** The longest grace a rotation may give the key it replaces. */
export const MAX_KEY_GRACE_MS = 30 * 24 * 60 * 60_000;

export type KeyCommand =
  | { type: 'RotateKey'; projectId: string; kind: AccessLevel; newKey: { id: string; digest: string }; graceMs: number; nowMs: number; byKeyId?: string }
  | { type: 'RevokeKey'; projectId: string; keyId: string; nowMs: number; byKeyId?: string };

export function keysAfterCreated(keys: EventData<'ProjectCreated'>['keys']): ProjectKey[] {
  return [
    { ...keys.publishableClientKey, kind: 'client', endsAtMillis: undefined },
    { ...keys.secretServerKey, kind: 'server', endsAtMillis: undefined },
    { ...keys.superSecretAdminKey, kind: 'admin', endsAtMillis: undefined },
  ];
}

export function keysAfterRotated(keys: readonly ProjectKey[], data: EventData<'ProjectKeyRotated'>): ProjectKey[] {
  const retired = keys.map((k) =>
    k.id === data.previousKey?.id ? { ...k, endsAtMillis: data.previousKeyEndsAtMillis ?? data.rotatedAtMillis } : k,
  );
  return [...retired, { ...data.newKey, kind: data.kind, endsAtMillis: undefined }];
}

export const keysAfterRevoked = (keys: readonly ProjectKey[], data: EventData<'ProjectKeyRevoked'>): ProjectKey[] => keys.filter((k) => k.id !== data.key.id);

export const isKeyLive = (key: ProjectKey, nowMs: number): boolean => key.endsAtMillis === undefined || nowMs < key.endsAtMillis;

function checkManager(keys: readonly ProjectKey[], byKeyId: string | undefined): void {
  if (byKeyId === undefined) return; // an admin user, or the operator's CLI
  const by = keys.find((k) => k.id === byKeyId);
  if (!by || by.endsAtMillis !== undefined) throw knownError('API_KEY_RETIRING');
}

export function decideKeyCommand(keys: readonly ProjectKey[], command: KeyCommand): Array<
  { type: 'ProjectKeyRotated'; data: EventData<'ProjectKeyRotated'> } | { type: 'ProjectKeyRevoked'; data: EventData<'ProjectKeyRevoked'> }
> {
  checkManager(keys, command.byKeyId);
  if (command.type === 'RotateKey') {
    if (!Number.isInteger(command.graceMs) || command.graceMs < 0 || command.graceMs > MAX_KEY_GRACE_MS) {
      throw knownError('SCHEMA_ERROR', `The grace must be a whole number of seconds from 0 to ${MAX_KEY_GRACE_MS / 1000}.`);
    }
    const current = keys.find((k) => k.kind === command.kind && k.endsAtMillis === undefined);
    const data: EventData<'ProjectKeyRotated'> = {
      projectId: command.projectId,
      kind: command.kind,
      newKey: command.newKey,
      rotatedAtMillis: command.nowMs,
    };
    // Keys rotated out earlier keep the end they were given: a rotation never lengthens a grace.
    if (current) Object.assign(data, { previousKey: { id: current.id, digest: current.digest }, previousKeyEndsAtMillis: command.nowMs + command.graceMs });
    return [{ type: 'ProjectKeyRotated', data }];
  }
  const key = keys.find((k) => k.id === command.keyId);
  if (!key) throw knownError('API_KEY_NOT_FOUND', undefined, { api_key_id: command.keyId });
  // A key whose grace is over already works nowhere: revoking it again changes nothing.
  if (!isKeyLive(key, command.nowMs)) return [];
  return [{ type: 'ProjectKeyRevoked', data: { projectId: command.projectId, kind: key.kind, key: { id: key.id, digest: key.digest }, revokedAtMillis: command.nowMs } }];
}
