// A wrong guess against a known nonce is recorded on the code's stream (the fifth locks the code)
// and on the email's stream (while twenty in an hour stand, the first wrong guess locks a code). The two appends are
// not one transaction: a crash between them loses one count from the email's budget, never
// from the code's.
import { metadataFor, settle, type AppContext, type Origin } from '../../app-context.ts';
import { foldStream, handleCommand } from '../handler.ts';
import { signInCodeDecider } from './sign-in-code-decider.ts';
import { isEmailLocked, signInEmailDecider } from './sign-in-email-decider.ts';
import { signInCodeStream, signInEmailStream } from './sign-in-code-streams.ts';
import type { SignInCodeState } from './sign-in-code-decider.ts';

/** `code` is the code's state as the caller found it (its email names the email's stream). */
export async function recordWrongGuess(ctx: AppContext, projectId: string, nonceDigest: string, found: Pick<SignInCodeState, 'emailDigest'>, origin: Origin): Promise<void> {
  const now = ctx.clock();
  const metadata = metadataFor({ ...origin, projectId }, now);
  const emailBudgetSpent = isEmailLocked(foldStream(signInEmailDecider, await ctx.store.readStream(signInEmailStream(projectId, found.emailDigest))), now);
  const code = await handleCommand(
    ctx.store,
    signInCodeStream(nonceDigest),
    signInCodeDecider,
    { type: 'RecordWrongGuess', projectId, nowMs: now, emailBudgetSpent },
    metadata,
  );
  if (code.appended.length === 0) return;
  const email = await handleCommand(
    ctx.store,
    signInEmailStream(projectId, code.state.emailDigest),
    signInEmailDecider,
    { type: 'RecordEmailWrongGuess', projectId, emailDigest: code.state.emailDigest, nonceDigest, nowMs: now },
    metadata,
  );
  // The next check must see the guess counted (five in a row lock the code).
  await settle(ctx, email.position ?? code.position);
}
