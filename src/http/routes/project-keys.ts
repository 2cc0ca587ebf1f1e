// A project's API keys and signing key over HTTP, admin only (an admin key or an admin user's
// token): list, rotate with a grace, revoke at once (PATCH {revoked: true}, upstream's shape for
// its internal API keys), and rotate the access-token signing key. A server or client key is
// refused whatever it asks for: a weaker credential never changes a key, its own included. A key
// in its grace after a rotation authenticates, but cannot rotate or revoke (project-keys.ts).
import Router from '@koa/router';
import { z } from 'zod';
import type { AppContext } from '../../app-context.ts';
import type { AppCtx, AppState } from '../app-state.ts';
import { callerOf, requireAccess } from '../access.ts';
import { bodyOrEmpty, parseInput } from '../validate.ts';
import { originOf } from '../origin.ts';
import { describeRoutes } from '../route-description.ts';
import { knownError } from '../../errors.ts';
import { listProjectKeys, revokeProjectKey, rotateProjectKey, rotateSigningKey } from '../../commands/project/manage-keys.ts';
import { MAX_KEY_GRACE_MS } from '../../commands/project/project-keys.ts';

const kind = z.enum(['client', 'server', 'admin']);
export const rotateKeyBody = z.strictObject({
  kind,
  grace_seconds: z.number().int().min(0).max(MAX_KEY_GRACE_MS / 1000).optional().describe('how long the replaced key keeps working; default 0 (it stops at once)'),
});
export const revokeKeyBody = z.strictObject({ revoked: z.literal(true) });

const keyItem = z.strictObject({
  id: z.uuid(),
  kind,
  status: z.enum(['current', 'retiring']),
  expires_at_millis: z.number().int().nullable().describe('for a retiring key, when it stops working'),
});
const rotated = z.strictObject({
  id: z.uuid(),
  kind,
  key: z.string().describe('the new key: shown only in this answer'),
  previous_key_id: z.uuid().nullable(),
  previous_key_expires_at_millis: z.number().int().nullable(),
});

const PREFIX = '/api/v1/projects/current';

export const projectKeyRouteDescriptions = describeRoutes(
  {
    method: 'GET',
    path: `${PREFIX}/keys`,
    tag: 'Projects',
    summary: "The project's keys that work now (ids only: the keys themselves exist only as digests).",
    access: 'admin',
    responses: { 200: { description: 'Current keys and keys in their grace.', schema: z.strictObject({ items: z.array(keyItem) }) } },
    errors: [],
  },
  {
    method: 'POST',
    path: `${PREFIX}/keys/rotate`,
    tag: 'Projects',
    summary: 'A new key of the kind; the one it replaces keeps working for grace_seconds, then never again.',
    access: 'admin',
    body: rotateKeyBody,
    responses: { 200: { description: 'The new key, shown once.', schema: rotated } },
    errors: ['API_KEY_RETIRING'],
  },
  {
    method: 'PATCH',
    path: `${PREFIX}/keys/:keyId`,
    tag: 'Projects',
    summary: 'Revoke a key ({"revoked": true}): it stops at once.',
    access: 'admin',
    params: { keyId: z.uuid() },
    body: revokeKeyBody,
    responses: { 200: { description: 'The key is revoked (or had already stopped).', schema: z.strictObject({ id: z.uuid(), revoked: z.literal(true) }) } },
    errors: ['API_KEY_NOT_FOUND', 'API_KEY_RETIRING'],
  },
  {
    method: 'POST',
    path: `${PREFIX}/signing-keys/rotate`,
    tag: 'Projects',
    summary: 'Sign access tokens with the next key; the previous one stays in the JWKS until its tokens have expired.',
    access: 'admin',
    bodyOptional: true,
    responses: {
      200: {
        description: 'The new generation.',
        schema: z.strictObject({ generation: z.number().int(), previous_verifies_until_millis: z.number().int() }),
      },
    },
    errors: ['SIGNING_KEY_ROTATED_RECENTLY'],
  },
);

/** The admin key the caller authenticated with; undefined for an admin user. */
const byKeyIdOf = (ctx: AppCtx): string | undefined => {
  const { actor } = callerOf(ctx);
  return actor.kind === 'admin-key' ? actor.id : undefined;
};

export function projectKeyRoutes(app: AppContext): Router<AppState> {
  const router = new Router<AppState>({ prefix: PREFIX });

  router.get('/keys', requireAccess(app, 'admin'), async (ctx) => {
    ctx.body = { items: (await listProjectKeys(app, callerOf(ctx).project.id)) ?? [] };
  });

  router.post('/keys/rotate', requireAccess(app, 'admin'), async (ctx) => {
    const body = parseInput(ctx, rotateKeyBody, ctx.state.body);
    ctx.body = await rotateProjectKey(
      app,
      { projectId: callerOf(ctx).project.id, kind: body.kind, graceMs: (body.grace_seconds ?? 0) * 1000, byKeyId: byKeyIdOf(ctx) },
      originOf(ctx),
    );
  });

  router.patch('/keys/:keyId', requireAccess(app, 'admin'), async (ctx) => {
    parseInput(ctx, revokeKeyBody, ctx.state.body);
    const keyId = ctx.params.keyId ?? '';
    if (!z.uuid().safeParse(keyId).success) throw knownError('API_KEY_NOT_FOUND', undefined, { api_key_id: keyId.slice(0, 64) });
    await revokeProjectKey(app, { projectId: callerOf(ctx).project.id, keyId, byKeyId: byKeyIdOf(ctx) }, originOf(ctx));
    ctx.body = { id: keyId, revoked: true };
  });

  router.post('/signing-keys/rotate', requireAccess(app, 'admin'), async (ctx) => {
    parseInput(ctx, z.strictObject({}), bodyOrEmpty(ctx));
    const done = await rotateSigningKey(app, callerOf(ctx).project.id, originOf(ctx));
    ctx.body = { generation: done.generation, previous_verifies_until_millis: done.previousVerifiesUntilMillis };
  });

  return router;
}
