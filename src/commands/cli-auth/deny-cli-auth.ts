// Denying a CLI login: the person on the approval page refuses the attempt. Decided on the
// attempt's stream like a completion, so an attempt is either approved or denied, never both;
// the CLI's next poll must hear `denied` and stop.
import { metadataFor, settle, type AppContext, type Origin } from '../../app-context.ts';
import { streamName } from '../../events/streams.ts';
import { handleCommand } from '../handler.ts';
import { cliAuthDecider } from './cli-auth-decider.ts';

export interface Denier {
  userId: string;
  /** The session the person denies from. */
  sessionId: string;
}

export async function denyCliAuth(ctx: AppContext, projectId: string, cliAuthId: string, denier: Denier, origin: Origin): Promise<void> {
  const now = ctx.clock();
  const result = await handleCommand(
    ctx.store,
    streamName('cliAuth', cliAuthId),
    cliAuthDecider,
    { type: 'DenyCliAuth', projectId, userId: denier.userId, denyingSessionId: denier.sessionId, nowMs: now },
    metadataFor({ ...origin, projectId }, now),
  );
  await settle(ctx, result.position);
}
