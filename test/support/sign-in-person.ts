// A person signing in themselves, with a code mailed to them: the only way (with a CLI login
// approved from such a session) to a session that carries admin rights. The tests drive the same
// commands the sign-in route does, in process, reading the code from the mail they hand over.
import type { AppContext } from '../../src/app-context.ts';
import type { OutgoingMail } from '../../src/mail/mailer.ts';
import { sendSignInCode } from '../../src/commands/sign-in-code/send-sign-in-code.ts';
import { signInWithCode, type SignedIn } from '../../src/flows/sign-in-with-code.ts';

const testOrigin = { actor: { kind: 'client-key' as const, id: 'test' } };

/** Sends a sign-in code to `email` and returns the whole code, read from the mail's link. */
export async function mailedCode(app: AppContext, projectId: string, email: string, origin = testOrigin): Promise<string> {
  const sent: OutgoingMail[] = [];
  const capturing: AppContext = { ...app, mailer: { send: async (mail) => void sent.push(mail), close: async () => {} } };
  await sendSignInCode(capturing, { projectId, projectName: 'test', email, callbackUrl: 'http://localhost/callback' }, origin);
  const code = /[?&]code=([a-z0-9]+)/.exec(sent[0]?.text ?? '')?.[1];
  if (!code) throw new Error('mailedCode: no code in the mail');
  return code;
}

export async function signInPerson(app: AppContext, projectId: string, email: string, origin = testOrigin): Promise<SignedIn> {
  return signInWithCode(app, projectId, await mailedCode(app, projectId, email, origin), origin);
}
