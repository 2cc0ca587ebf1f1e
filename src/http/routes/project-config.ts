// A project's settings of what clients may do, over HTTP, admin only (an admin key or an admin
// user's token): whether client calls need a publishable key, and whether a signed-in user may
// delete themself with client access. Upstream keeps these in its project config
// (`project.requirePublishableClientKey`, `users.allowClientUserDeletion`); the names here are
// those of upstream's project API (`client_user_deletion_enabled`).
import Router from '@koa/router';
import { z } from 'zod';
import type { AppContext } from '../../app-context.ts';
import type { AppState } from '../app-state.ts';
import { callerOf, requireAccess } from '../access.ts';
import { bodyOrEmpty, parseInput } from '../validate.ts';
import { originOf } from '../origin.ts';
import { describeRoutes } from '../route-description.ts';
import { settle } from '../../commands/handler.ts';
import { changeProject } from '../../commands/project/change-project.ts';
import { findProject, type ProjectView } from '../../projections/project-projection.ts';
import { knownError } from '../../errors.ts';

const PATH = '/api/v1/projects/current/config';

export const projectConfigBody = z.strictObject({
  require_publishable_client_key: z.boolean().optional().describe('client calls must send x-stack-publishable-client-key (default false)'),
  client_user_deletion_enabled: z.boolean().optional().describe('DELETE /users/me works with client access (default false)'),
});
const projectConfig = z.strictObject({ require_publishable_client_key: z.boolean(), client_user_deletion_enabled: z.boolean() });

const configOf = (project: ProjectView): z.infer<typeof projectConfig> => ({
  require_publishable_client_key: project.requirePublishableClientKey,
  client_user_deletion_enabled: project.clientUserDeletionEnabled,
});

export const projectConfigRouteDescriptions = describeRoutes(
  {
    method: 'GET',
    path: PATH,
    tag: 'Projects',
    summary: 'What clients may do in the project.',
    access: 'admin',
    responses: { 200: { description: 'The settings.', schema: projectConfig } },
    errors: [],
  },
  {
    method: 'PATCH',
    path: PATH,
    tag: 'Projects',
    summary: 'Change what clients may do; a setting left out stays as it is.',
    access: 'admin',
    body: projectConfigBody,
    responses: { 200: { description: 'The settings now.', schema: projectConfig } },
    errors: [],
  },
);

export function projectConfigRoutes(app: AppContext): Router<AppState> {
  const router = new Router<AppState>();

  router.get(PATH, requireAccess(app, 'admin'), (ctx) => {
    ctx.body = configOf(callerOf(ctx).project);
  });

  router.patch(PATH, requireAccess(app, 'admin'), async (ctx) => {
    const body = parseInput(ctx, projectConfigBody, bodyOrEmpty(ctx));
    const projectId = callerOf(ctx).project.id;
    const config = {
      ...(body.require_publishable_client_key !== undefined ? { requirePublishableClientKey: body.require_publishable_client_key } : {}),
      ...(body.client_user_deletion_enabled !== undefined ? { clientUserDeletionEnabled: body.client_user_deletion_enabled } : {}),
    };
    const result = await changeProject(app, { type: 'SetConfig', projectId, config }, originOf(ctx));
    await settle(app, result.position);
    const project = await findProject(app.readModel, projectId);
    if (!project) throw knownError('CURRENT_PROJECT_NOT_FOUND', undefined, { project_id: projectId });
    ctx.body = configOf(project);
  });

  return router;
}
