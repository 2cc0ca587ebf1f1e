// Denying a CLI login: the person on the approval page refuses the attempt. Decided on the
// attempt's stream like a completion, so an attempt is either approved or denied, never both;
// the CLI's next poll must hear `denied` and stop.
import type { AppContext, Origin } from '../../app-context.ts';
import { cliAuths } from '../aggregates.ts';

export interface Denier {
  userId: string;
  /** The session the person denies from. */
  sessionId: string;
}

export async function denyCliAuth(ctx: AppContext, projectId: string, cliAuthId: string, denier: Denier, origin: Origin): Promise<void> {
  await cliAuths.handle(
    ctx,
    cliAuthId,
    (nowMs) => ({ type: 'DenyCliAuth', projectId, userId: denier.userId, denyingSessionId: denier.sessionId, nowMs }),
    { origin, projectId },
  );
}
