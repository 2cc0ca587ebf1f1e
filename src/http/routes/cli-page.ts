// The CLI approval page (issue #10): where a person approves, or denies, the login a command-line
// tool started. Server-rendered, no script. It calls the commands and the read model directly;
// its only URL state is the project and the login code (`/cli?project_id=…&login_code=…`, the
// link `authlog login` prints). A person signs in with an emailed code; the browser session is a
// cookie; every form carries a CSRF token (page/csrf.ts).
import Router from '@koa/router';
import type { Next } from 'koa';
import { z } from 'zod';
import type { AppContext } from '../../app-context.ts';
import type { AppCtx, AppState } from '../app-state.ts';
import { KnownError } from '../../errors.ts';
import { completeCliAuth } from '../../commands/cli-auth/complete-cli-auth.ts';
import { denyCliAuth } from '../../commands/cli-auth/deny-cli-auth.ts';
import { sendSignInCode } from '../../commands/sign-in-code/send-sign-in-code.ts';
import { signInWithCode } from '../../flows/sign-in-with-code.ts';
import { revokeSession } from '../../commands/session/revoke-session.ts';
import { OTP_LENGTH } from '../../commands/sign-in-code/sign-in-code-streams.ts';
import { reserveLimits } from '../rate-limit.ts';
import { signInSendLimits } from './sign-in-codes.ts';
import { reserveSignInGuess } from '../sign-in-guess.ts';
import { originOf } from '../origin.ts';
import { writeCookie } from '../page/page-cookies.ts';
import { seeOther, setPageHeaders, show } from '../page/page-response.ts';
import { cliPageProblems } from '../page/cli-page-problems.ts';
import { cliPageRequests, displayCode, pageHref, type SignedInPerson } from '../page/cli-page-requests.ts';
import { approveView, enterCodeView, otpView, outcomeView, problemView, reviewView, signInView } from '../page/cli-page-views.ts';

const emailShape = z.email();
const pageActor = { kind: 'system', id: 'cli-approval-page' } as const;
const personActor = (person: SignedInPerson) => ({ kind: 'user', id: person.userId, sessionId: person.sessionId }) as const;

export function cliPageRoutes(app: AppContext): Router<AppState> {
  const router = new Router<AppState>({ prefix: '/cli' });
  const { scopeOf, retryHrefOf, projectOf, attemptOf, signedInOf, postedForm, formContext } = cliPageRequests(app);

  router.use(async (ctx: AppCtx, next: Next) => {
    setPageHeaders(ctx, scopeOf(ctx));
    await next();
  });
  router.use(cliPageProblems(app, retryHrefOf));

  router.get('/', async (ctx) => {
    const single = (name: string): string | undefined => {
      const value = ctx.query[name];
      return typeof value === 'string' ? value : undefined;
    };
    const projectId = single('project_id');
    if (projectId === undefined) {
      ctx.set('x-stack-known-error', 'SCHEMA_ERROR');
      show(ctx, problemView(400, 'Open the link from your terminal', 'This page needs the link “authlog login” printed: it names the project you are logging in to. Open that link as it is.'));
      return;
    }
    const project = await projectOf(ctx, projectId);
    const typed = single('login_code');
    if (typed === undefined || typed.trim() === '') {
      show(ctx, enterCodeView(project));
      return;
    }
    // Not evaluated here: a link (or an <img> on any site) must not spend a guess. The posted
    // forms, each with its CSRF token, look the code up.
    const loginCode = displayCode(typed);
    const form = formContext(ctx, project, loginCode);
    const person = await signedInOf(ctx, project.id);
    show(ctx, person ? reviewView(form, person.label) : signInView(form));
  });

  router.post('/review', async (ctx) => {
    const { project, loginCode } = await postedForm(ctx, 'review');
    const person = await signedInOf(ctx, project.id);
    if (!person) return seeOther(ctx, pageHref(project.id, loginCode));
    const attempt = await attemptOf(ctx, project, loginCode);
    show(ctx, approveView(formContext(ctx, project, loginCode), attempt, person.label, app.clock()));
  });

  router.post('/email', async (ctx) => {
    const { fields, project, loginCode } = await postedForm(ctx, 'email');
    await attemptOf(ctx, project, loginCode);
    const form = formContext(ctx, project, loginCode);
    const email = fields.email.trim();
    if (!emailShape.safeParse(email).success) {
      show(ctx, signInView(form, { error: 'Enter an email address, like ada@example.com.', email }));
      return;
    }
    const send = await reserveLimits(app, signInSendLimits(app, project, email, ctx.ip));
    const base = (app.config.PUBLIC_URL ?? `${ctx.protocol}://${ctx.host}`).replace(/\/+$/, '');
    let sent;
    try {
      sent = await sendSignInCode(
        app,
        { projectId: project.id, projectName: project.name, email, callbackUrl: `${base}/cli`, withLink: false },
        originOf(ctx, { projectId: project.id, actor: pageActor }),
      );
    } catch (error) {
      await send.release(); // nothing was sent
      throw error;
    }
    show(ctx, otpView(form, { email, nonce: sent.nonce }));
  });

  router.post('/otp', async (ctx) => {
    const { fields, project, loginCode } = await postedForm(ctx, 'otp');
    const form = formContext(ctx, project, loginCode);
    const sent = { email: fields.email, nonce: fields.nonce };
    const otp = fields.otp.replace(/[\s-]/g, '').toLowerCase();
    if (otp.length !== OTP_LENGTH) {
      show(ctx, otpView(form, sent, `The sign-in code has ${OTP_LENGTH} characters; it is in the email's subject line.`));
      return;
    }
    const code = otp + fields.nonce.toLowerCase();
    const guess = await reserveSignInGuess(app, project, ctx.ip, code);
    let refreshToken: string;
    try {
      refreshToken = (await signInWithCode(app, project.id, code, originOf(ctx, { projectId: project.id, actor: pageActor }))).refreshToken;
    } catch (error) {
      // Only a wrong code is a failed guess; anything else gives the unit back.
      if (!(error instanceof KnownError && error.code === 'VERIFICATION_CODE_NOT_FOUND')) await guess.release();
      if (!(error instanceof KnownError)) throw error;
      if (error.code === 'VERIFICATION_CODE_NOT_FOUND') {
        show(ctx, otpView(form, sent, 'That code is not right. Check the email and type the code again.'));
        return;
      }
      if (error.code === 'VERIFICATION_CODE_EXPIRED' || error.code === 'VERIFICATION_CODE_ALREADY_USED' || error.code === 'VERIFICATION_CODE_MAX_ATTEMPTS_REACHED') {
        show(ctx, signInView(form, { error: `${error.message} Send yourself a new code.`, email: fields.email }));
        return;
      }
      throw error;
    }
    await guess.release();
    writeCookie(ctx, 'session', refreshToken, scopeOf(ctx));
    seeOther(ctx, pageHref(project.id, loginCode));
  });

  router.post('/approve', async (ctx) => {
    const { fields, project, loginCode } = await postedForm(ctx, 'approve');
    const person = await signedInOf(ctx, project.id);
    if (!person) return seeOther(ctx, pageHref(project.id, loginCode));
    const attempt = await attemptOf(ctx, project, loginCode);
    if (fields.confirm !== 'yes') {
      show(ctx, approveView(formContext(ctx, project, loginCode), attempt, person.label, app.clock(), `Tick the box to confirm that your terminal shows ${loginCode}.`));
      return;
    }
    await completeCliAuth(app, project.id, attempt.cliAuthId, person, originOf(ctx, { projectId: project.id, actor: personActor(person) }));
    show(ctx, outcomeView(project, 'approved'));
  });

  router.post('/deny', async (ctx) => {
    const { project, loginCode } = await postedForm(ctx, 'deny');
    const person = await signedInOf(ctx, project.id);
    if (!person) return seeOther(ctx, pageHref(project.id, loginCode));
    const attempt = await attemptOf(ctx, project, loginCode);
    await denyCliAuth(app, project.id, attempt.cliAuthId, person, originOf(ctx, { projectId: project.id, actor: personActor(person) }));
    show(ctx, outcomeView(project, 'denied'));
  });

  router.post('/sign-out', async (ctx) => {
    const { project, loginCode } = await postedForm(ctx, 'sign-out');
    const person = await signedInOf(ctx, project.id);
    if (person) await revokeSession(app, project.id, person.sessionId, 'sign-out', originOf(ctx, { projectId: project.id, actor: personActor(person) }));
    writeCookie(ctx, 'session', undefined, scopeOf(ctx));
    seeOther(ctx, pageHref(project.id, loginCode));
  });

  return router;
}
