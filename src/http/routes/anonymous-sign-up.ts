// POST /api/v1/auth/anonymous/sign-up (upstream's route, the official SDK's
// getUser({ or: 'anonymous' })): a new anonymous user and their tokens. Client access; every
// call appends a user and a session, so calls are capped per address and per project.
import Router from '@koa/router';
import { z } from 'zod';
import type { AppContext } from '../../app-context.ts';
import type { AppState } from '../app-state.ts';
import { callerOf, requireAccess } from '../access.ts';
import { originOf } from '../origin.ts';
import { projectLimit, reserveLimits, type RateLimit } from '../rate-limit.ts';
import type { ProjectView } from '../../projections/project-projection.ts';
import { limitAddressOf } from '../../trust-proxy.ts';
import { signUpAnonymously } from '../../commands/user/sign-up-anonymously.ts';
import { describeRoutes } from '../route-description.ts';

export const anonymousSignUpRouteDescriptions = describeRoutes({
  method: 'POST',
  path: '/api/v1/auth/anonymous/sign-up',
  tag: 'Anonymous users',
  summary: 'Sign up anonymously: a user with no email, and their first session.',
  description:
    "The user has is_anonymous: true. Their access tokens are of audience `<project>:anon` and issuer `…/api/v1/projects-anonymous-users/<project>`, signed with keys the project's JWKS lists only with include_anonymous=true; routes take them only with x-stack-allow-anonymous-user: true (as upstream). A request body, if any, is ignored (as upstream).",
  access: 'client',
  responses: {
    200: {
      description: 'The anonymous user and their tokens.',
      schema: z.strictObject({ access_token: z.string(), refresh_token: z.string().startsWith('rt_'), user_id: z.uuid() }),
    },
  },
  errors: ['RATE_LIMITED'],
});

export const anonymousSignUpLimits = (project: ProjectView, ip: string): RateLimit[] => [
  projectLimit(project, 'anonymous-sign-ups-per-address', `anon-sign-up-ip:${project.id}:${limitAddressOf(ip)}`),
  projectLimit(project, 'anonymous-sign-ups-per-project', `anon-sign-up-project:${project.id}`),
];

export function anonymousSignUpRoutes(app: AppContext): Router<AppState> {
  const router = new Router<AppState>();
  router.post('/api/v1/auth/anonymous/sign-up', requireAccess(app, 'client'), async (ctx) => {
    const project = callerOf(ctx).project;
    const reserved = await reserveLimits(app, anonymousSignUpLimits(project, ctx.ip));
    let signedUp;
    try {
      signedUp = await signUpAnonymously(app, project.id, originOf(ctx));
    } catch (error) {
      await reserved.release(); // nobody was signed up
      throw error;
    }
    ctx.body = { access_token: signedUp.accessToken, refresh_token: signedUp.refreshToken, user_id: signedUp.userId };
  });
  return router;
}
