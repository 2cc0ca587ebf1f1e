// A wrong guess against a known nonce is recorded on the code's stream (the fifth locks the code)
// and on the email's stream (while twenty in an hour stand, the first wrong guess locks a code). The two appends are
// not one transaction: a crash between them loses one count from the email's budget, never
// from the code's.
import type { AppContext, Origin } from '../../app-context.ts';
import { settle } from '../handler.ts';
import { projectScoped, signInCodes, signInEmails } from '../aggregates.ts';
import { isEmailLocked } from './sign-in-email-decider.ts';
import type { SignInCodeState } from './sign-in-code-decider.ts';

/** `found` is the code as the caller found it (its email names the email's stream). */
export async function recordWrongGuess(ctx: AppContext, projectId: string, nonceDigest: string, found: Pick<SignInCodeState, 'emailDigest'>, origin: Origin): Promise<void> {
  const now = ctx.clock();
  // One instant for both streams; the guess is waited for once, after its last write.
  const call = { origin, projectId, nowMs: now, settle: false };
  const emailBudgetSpent = isEmailLocked(await signInEmails.load(ctx, projectScoped(projectId, found.emailDigest)), now);
  const code = await signInCodes.handle(ctx, nonceDigest, (nowMs) => ({ type: 'RecordWrongGuess', projectId, nowMs, emailBudgetSpent }), call);
  if (code.appended.length === 0) return;
  const emailDigest = code.state.emailDigest;
  const email = await signInEmails.handle(
    ctx,
    projectScoped(projectId, emailDigest),
    (nowMs) => ({ type: 'RecordEmailWrongGuess', projectId, emailDigest, nonceDigest, nowMs }),
    call,
  );
  // The next check must see the guess counted (five in a row lock the code).
  await settle(ctx, email.position ?? code.position);
}
