// The origin recorded on events: the caller's actor and project, the request id, address, agent.
import type { Origin } from '../app-context.ts';
import type { AppCtx } from './app-state.ts';

export function originOf(ctx: AppCtx): Origin {
  const caller = ctx.state.caller;
  return {
    projectId: caller?.project.id,
    actor: caller?.actor ?? { kind: 'system', id: 'anonymous' },
    requestId: ctx.state.requestId,
    ip: ctx.ip,
    userAgent: ctx.get('user-agent').slice(0, 512) || undefined,
  };
}
