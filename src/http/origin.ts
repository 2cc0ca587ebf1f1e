// The origin recorded on events: the caller's actor and project (or those a page acts for), the
// request id, address, agent.
import type { Origin } from '../app-context.ts';
import type { AppCtx } from './app-state.ts';

/** `on`: who the request acts as when no caller key does (the approval page: the person, or the page itself). */
export function originOf(ctx: AppCtx, on?: { projectId: string; actor: Origin['actor'] }): Origin {
  const caller = ctx.state.caller;
  return {
    projectId: on ? on.projectId : caller?.project.id,
    actor: on?.actor ?? caller?.actor ?? { kind: 'system', id: 'anonymous' },
    requestId: ctx.state.requestId,
    ip: ctx.ip,
    userAgent: ctx.get('user-agent').slice(0, 512) || undefined,
  };
}
