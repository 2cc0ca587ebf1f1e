// What the middleware chain learns about a request, typed for every route.
import type { ParameterizedContext } from 'koa';
import type { Actor } from '../events/actor.ts';
import type { AccessLevel, ProjectView } from '../projections/project-projection.ts';

export interface Caller {
  project: ProjectView;
  accessType: AccessLevel;
  actor: Actor;
}

export interface AppState {
  requestId: string;
  /** Set by the access middleware on endpoints that need credentials. */
  caller?: Caller;
  /** The parsed JSON body (undefined when there was none). */
  body?: unknown;
}

export type AppCtx = ParameterizedContext<AppState>;
