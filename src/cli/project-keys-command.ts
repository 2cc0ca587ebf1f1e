// `authlog project rotate-key | revoke-key | list-keys | rotate-signing-key |
// set-refresh-token-rotation`: appended straight to the event store on the project stream, as
// the operator ('system:cli'), like every `authlog project` change; a running server on the same
// data sees them through its subscription. Through openLog, like every process's appends, so
// each new key's event records the fingerprint of the secret that made its digest.
import { parseArgs } from 'node:util';
import type { Config } from '../config.ts';
import { systemClock } from '../clock.ts';
import { openLog } from '../backends.ts';
import { createHasher } from '../crypto/digests.ts';
import { systemOrigin } from '../app-context.ts';
import { UsageError } from './usage.ts';
import { listProjectKeys, revokeProjectKey, rotateProjectKey, rotateSigningKey, setRefreshTokenRotation } from '../commands/project/manage-keys.ts';
import { MAX_KEY_GRACE_MS } from '../commands/project/project-keys.ts';
import { REFRESH_TOKEN_ROTATION_MODES, type RefreshTokenRotationMode } from '../events/project-events.ts';
import type { AccessLevel } from '../projections/project-projection.ts';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const KINDS: readonly AccessLevel[] = ['client', 'server', 'admin'];
export const PROJECT_KEY_SUBCOMMANDS = ['rotate-key', 'revoke-key', 'list-keys', 'rotate-signing-key', 'set-refresh-token-rotation'] as const;

function projectOf(sub: string, value: string | undefined): string {
  if (!value || !UUID.test(value)) throw new UsageError(`project ${sub} needs --project PROJECT_ID (a UUID)`);
  return value.toLowerCase();
}

export async function projectKeysCommand(config: Config, sub: (typeof PROJECT_KEY_SUBCOMMANDS)[number], rest: string[], out: (line: string) => void): Promise<void> {
  const { values } = parseArgs({
    args: rest,
    options: {
      project: { type: 'string' },
      kind: { type: 'string' },
      'key-id': { type: 'string' },
      'grace-seconds': { type: 'string' },
      rotation: { type: 'string' },
      json: { type: 'boolean', default: false },
    },
    strict: true,
    allowPositionals: false,
  });
  const projectId = projectOf(sub, values.project);
  const print = (json: unknown, lines: string[]) => (values.json ? out(JSON.stringify(json)) : lines.forEach((l) => out(l)));
  const log = openLog(config);
  const ctx = { store: log.store, hasher: createHasher(log.secret.value, log.secret.previous), clock: systemClock };
  try {
    switch (sub) {
      case 'rotate-key': {
        const kind = values.kind as AccessLevel | undefined;
        if (!kind || !KINDS.includes(kind)) throw new UsageError('project rotate-key needs --kind client|server|admin');
        const grace = values['grace-seconds'] === undefined ? 0 : Number(values['grace-seconds']);
        if (!Number.isInteger(grace) || grace < 0 || grace > MAX_KEY_GRACE_MS / 1000) throw new UsageError(`--grace-seconds must be a whole number from 0 to ${MAX_KEY_GRACE_MS / 1000}`);
        const rotated = await rotateProjectKey(ctx, { projectId, kind, graceMs: grace * 1000 }, systemOrigin('cli'));
        const ends = rotated.previous_key_expires_at_millis;
        print(rotated, [
          `New ${kind} key of project ${projectId} (key id ${rotated.id}):`,
          `  ${rotated.key}`,
          rotated.previous_key_id === null ? 'There was no current key of this kind.' : `The previous key ${rotated.previous_key_id} ${grace === 0 ? 'has stopped working' : `works until ${new Date(ends ?? 0).toISOString()}`}.`,
          'The key is shown only now: authlog keeps only its HMAC digest.',
        ]);
        return;
      }
      case 'revoke-key': {
        const keyId = values['key-id'];
        if (!keyId || !UUID.test(keyId)) throw new UsageError('project revoke-key needs --key-id KEY_ID (see project list-keys)');
        const changed = await revokeProjectKey(ctx, { projectId, keyId: keyId.toLowerCase() }, systemOrigin('cli'));
        print({ id: keyId.toLowerCase(), revoked: true, changed }, [`Key ${keyId.toLowerCase()} of project ${projectId} is revoked${changed ? '' : ' (it had already stopped)'}.`]);
        return;
      }
      case 'list-keys': {
        const keys = await listProjectKeys(ctx, projectId);
        if (!keys) throw new Error(`project ${projectId} does not exist`);
        print({ items: keys }, keys.map((k) => `${k.id}  ${k.kind.padEnd(6)}  ${k.status}${k.expires_at_millis === null ? '' : ` until ${new Date(k.expires_at_millis).toISOString()}`}`));
        return;
      }
      case 'rotate-signing-key': {
        const done = await rotateSigningKey(ctx, projectId, systemOrigin('cli'));
        print({ generation: done.generation, previous_verifies_until_millis: done.previousVerifiesUntilMillis }, [
          `Project ${projectId} signs access tokens with signing key generation ${done.generation};`,
          `the previous key stays in the JWKS and verifies until ${new Date(done.previousVerifiesUntilMillis).toISOString()}.`,
        ]);
        return;
      }
      case 'set-refresh-token-rotation': {
        const rotation = values.rotation as RefreshTokenRotationMode | undefined;
        if (!rotation || !REFRESH_TOKEN_ROTATION_MODES.includes(rotation)) throw new UsageError(`--rotation must be one of ${REFRESH_TOKEN_ROTATION_MODES.join(', ')}`);
        const changed = await setRefreshTokenRotation(ctx, projectId, rotation, systemOrigin('cli'));
        print({ rotation, changed }, [`Project ${projectId} rotates refresh tokens: ${rotation}${changed ? '' : ' (unchanged)'}.`]);
        return;
      }
    }
  } finally {
    await log.close();
  }
}
