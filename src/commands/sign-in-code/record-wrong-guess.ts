// A wrong guess against a known nonce is recorded on the code's stream (the fifth locks the code)
// and on the email's stream (twenty in an hour lock all the email's codes). The two appends are
// not one transaction: a crash between them loses one count from the email's budget, never
// from the code's.
import { metadataFor, settle, type AppContext, type Origin } from '../../app-context.ts';
import { handleCommand } from '../handler.ts';
import { signInCodeDecider } from './sign-in-code-decider.ts';
import { signInEmailDecider } from './sign-in-email-decider.ts';
import { signInCodeStream, signInEmailStream } from './sign-in-code-streams.ts';

export async function recordWrongGuess(ctx: AppContext, projectId: string, nonceDigest: string, origin: Origin): Promise<void> {
  const now = ctx.clock();
  const metadata = metadataFor({ ...origin, projectId }, now);
  const code = await handleCommand(ctx.store, signInCodeStream(nonceDigest), signInCodeDecider, { type: 'RecordWrongGuess', projectId, nowMs: now }, metadata);
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
