// The public halves of a project's access-token signing key, for anyone verifying its tokens.
import Router from '@koa/router';
import { z } from 'zod';
import type { AppContext } from '../../app-context.ts';
import type { AppState } from '../app-state.ts';
import { findProject } from '../../projections/project-projection.ts';
import { knownError } from '../../errors.ts';
import { describeRoutes } from '../route-description.ts';
import { parseInput } from '../validate.ts';
import { JWKS_MAX_AGE_SECONDS } from '../../commands/project/signing-key-schedule.ts';

const trueOrFalse = z.enum(['true', 'false']).optional();
const jwksQuery = z.object({ include_anonymous: trueOrFalse, include_restricted: trueOrFalse });

export const jwksRouteDescriptions = describeRoutes({
  method: 'GET',
  path: '/api/v1/projects/:projectId/.well-known/jwks.json',
  tag: 'Sessions',
  summary: "The public keys that verify a project's access tokens.",
  access: 'public',
  params: { projectId: z.uuid() },
  query: jwksQuery,
  description:
    "As upstream: anonymous users' keys are listed only with include_anonymous=true (a verifier using the plain JWKS never accepts an anonymous user's token); include_restricted is accepted, authlog's only restricted users being anonymous ones. Cached for 300 s (upstream: 3600): the signing-key rotation schedule relies on it (signing-key-schedule.ts).",
  responses: {
    200: {
      description: 'A JSON Web Key Set (RFC 7517).',
      schema: z.strictObject({ keys: z.array(z.looseObject({ kty: z.string(), kid: z.string(), alg: z.string(), use: z.string() })).min(1) }),
    },
  },
  errors: ['CURRENT_PROJECT_NOT_FOUND', 'SERVICE_UNAVAILABLE'],
});

export function jwksRoutes(app: AppContext): Router<AppState> {
  const router = new Router<AppState>();
  router.get('/api/v1/projects/:projectId/.well-known/jwks.json', async (ctx) => {
    const projectId = ctx.params.projectId ?? '';
    if (!z.uuid().safeParse(projectId).success || !(await findProject(app.readModel, projectId))) {
      const shown = projectId.slice(0, 64);
      throw knownError('CURRENT_PROJECT_NOT_FOUND', `The project with ID ${shown} does not exist.`, { project_id: shown });
    }
    const query = parseInput(ctx, jwksQuery, ctx.query, 'query');
    ctx.body = await app.tokens.jwks(projectId, app.clock(), { includeAnonymous: query.include_anonymous === 'true' });
    // Short enough for the rotation schedule (signing-key-schedule.ts): a cached JWKS already
    // lists the key the next rotation switches to.
    ctx.set('cache-control', `public, max-age=${JWKS_MAX_AGE_SECONDS}`);
  });
  return router;
}
