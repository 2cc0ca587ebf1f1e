// The public keys that check the log's signed checkpoints (integrity/checkpoint-keys.ts), like a
// JWKS: no credential needed, so that whoever keeps exported checkpoints can check them without
// the secret. The previous secret's key stays listed while AUTHLOG_SECRET_PREVIOUS is set.
import Router from '@koa/router';
import { z } from 'zod';
import type { AppContext } from '../../app-context.ts';
import type { AppState } from '../app-state.ts';
import { describeRoutes } from '../route-description.ts';

export const checkpointKeyRouteDescriptions = describeRoutes({
  method: 'GET',
  path: '/api/v1/audit/checkpoint-keys',
  tag: 'Audit and operations',
  summary: "The public keys (Ed25519 JWKs) that check the log's signed checkpoints.",
  access: 'public',
  responses: {
    200: {
      description: 'The current key first, then the previous secret\'s while it is configured. A kid is the key\'s RFC 7638 thumbprint.',
      schema: z.strictObject({
        keys: z.array(z.strictObject({ kty: z.literal('OKP'), crv: z.literal('Ed25519'), x: z.string(), kid: z.string(), alg: z.literal('EdDSA'), use: z.literal('sig'), status: z.enum(['current', 'previous']) })).min(1),
      }),
    },
  },
  errors: [],
});

export function checkpointKeyRoutes(app: AppContext): Router<AppState> {
  const router = new Router<AppState>();
  router.get('/api/v1/audit/checkpoint-keys', (ctx) => {
    ctx.body = app.checkpointKeys.jwks();
    ctx.set('cache-control', 'public, max-age=300');
  });
  return router;
}
