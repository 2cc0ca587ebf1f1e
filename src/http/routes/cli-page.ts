// The CLI approval page (issue #10): where a person approves, or denies, the login a command-line
// tool started. Server-rendered, no script. It calls the commands and the read model directly;
// its only URL state is the project and the login code (`/cli?project_id=…&login_code=…`, the
// link `authlog login` prints). A person signs in with an emailed code; the browser session is a
// cookie; every form carries a CSRF token (page/csrf.ts).
import Router from '@koa/router';
import type { Next } from 'koa';
import { z } from 'zod';
import type { AppContext, Origin } from '../../app-context.ts';
import type { AppCtx, AppState } from '../app-state.ts';
import { KnownError, knownError } from '../../errors.ts';
import { BackendUnavailableError } from '../../backend-unavailable.ts';
import { normaliseLoginCode } from '../../crypto/codes.ts';
import { findProject, type ProjectView } from '../../projections/project-projection.ts';
import { findCliAuth, type CliAuthView } from '../../projections/cli-auth-projection.ts';
import { findSessionByRefreshToken } from '../../commands/session/find-session-by-refresh-token.ts';
import { findUser } from '../../projections/user-projection.ts';
import { completeCliAuth } from '../../commands/cli-auth/complete-cli-auth.ts';
import { denyCliAuth } from '../../commands/cli-auth/deny-cli-auth.ts';
import { sendSignInCode } from '../../commands/sign-in-code/send-sign-in-code.ts';
import { signInWithCode } from '../../commands/sign-in-code/sign-in-with-code.ts';
import { revokeSession } from '../../commands/session/revoke-session.ts';
import { SIGN_IN_CODE_LENGTH } from '../../commands/sign-in-code/sign-in-code-streams.ts';
import { reserveLimits } from '../rate-limit.ts';
import { attemptIdOfGuess } from '../login-code-guess.ts';
import { signInSendLimits } from './sign-in-codes.ts';
import { reserveSignInGuess } from '../sign-in-guess.ts';
import { csrfTokens, verifyCsrf, type PageAction } from '../page/csrf.ts';
import { readCookie, writeCookie, type CookieScope } from '../page/page-cookies.ts';
import { readFormBody } from '../page/form-body.ts';
import { CONTENT_SECURITY_POLICY } from '../page/html.ts';
import {
  approveView,
  type ShownAttempt,
  enterCodeView,
  otpView,
  outcomeView,
  problemView,
  reviewView,
  signInView,
  type PageProject,
  type RenderedPage,
} from '../page/cli-page-views.ts';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const OTP_LENGTH = 6;
const NONCE_LENGTH = SIGN_IN_CODE_LENGTH - OTP_LENGTH;

const target = { csrf: z.string().max(200), project_id: z.string().max(64), login_code: z.string().max(64) };
const forms = {
  email: z.strictObject({ ...target, email: z.string().max(254) }),
  otp: z.strictObject({ ...target, email: z.string().max(254), nonce: z.string().length(NONCE_LENGTH), otp: z.string().max(20) }),
  review: z.strictObject(target),
  approve: z.strictObject({ ...target, confirm: z.literal('yes').optional() }),
  deny: z.strictObject(target),
  'sign-out': z.strictObject(target),
} satisfies Record<PageAction, z.ZodType>;
const emailShape = z.email();

/** XXXX-XXXX, as the terminal shows it. */
const displayCode = (input: string): string => {
  const code = normaliseLoginCode(input);
  return code.length === 8 ? `${code.slice(0, 4)}-${code.slice(4)}` : code;
};

const pageHref = (projectId: string, loginCode?: string): string =>
  `/cli?project_id=${encodeURIComponent(projectId)}${loginCode === undefined ? '' : `&login_code=${encodeURIComponent(loginCode)}`}`;

function setPageHeaders(ctx: AppCtx, scope: CookieScope): void {
  ctx.set('content-security-policy', CONTENT_SECURITY_POLICY);
  ctx.set('x-frame-options', 'DENY');
  ctx.set('referrer-policy', 'no-referrer');
  ctx.set('x-content-type-options', 'nosniff');
  ctx.set('cross-origin-opener-policy', 'same-origin');
  ctx.set('cross-origin-resource-policy', 'same-origin');
  ctx.set('permissions-policy', 'camera=(), microphone=(), geolocation=(), payment=()');
  if (scope.secure) ctx.set('strict-transport-security', 'max-age=31536000');
}

function show(ctx: AppCtx, rendered: RenderedPage): void {
  ctx.status = rendered.status;
  ctx.type = 'text/html; charset=utf-8';
  ctx.body = rendered.body;
}

/** What a person is told when the flow cannot go on; never a stack trace. */
function problemFor(error: unknown, retryHref: string | undefined): RenderedPage | undefined {
  if (error instanceof KnownError) {
    switch (error.code) {
      case 'INVALID_LOGIN_CODE':
        return problemView(
          400,
          'This login code is not valid',
          'It has expired, was already approved or denied, or was never issued. Run “authlog login” again in your terminal for a new code.',
          retryHref,
        );
      case 'FORM_EXPIRED':
        return problemView(403, 'This form has expired', 'The form was not sent from this page in this browser, or it is too old. Go back, reload the page, and try again.', retryHref);
      case 'RATE_LIMITED':
        return problemView(429, 'Too many attempts', error.message, retryHref);
      case 'CURRENT_PROJECT_NOT_FOUND':
        return problemView(400, 'Unknown project', 'This link does not name a project of this service. Open the link your terminal printed, as it is.');
      default:
        return problemView(error.status, 'This request could not be completed', error.message, retryHref);
    }
  }
  if (error instanceof BackendUnavailableError) {
    return problemView(error.status, 'Temporarily unavailable', 'A part of the service is unavailable. Nothing was changed. Try again in a moment.', retryHref);
  }
  return undefined;
}

export function cliPageRoutes(app: AppContext): Router<AppState> {
  const router = new Router<AppState>({ prefix: '/cli' });
  const scopeOf = (ctx: AppCtx): CookieScope => ({ secure: ctx.secure || app.config.PUBLIC_URL?.startsWith('https:') === true });
  /** Where "Start again" leads, when the request named a project. */
  const retryOf = new WeakMap<AppCtx, string>();

  // Errors become pages here (the API's JSON errors are for programs); bugs are logged with the
  // request id and shown as a plain apology.
  router.use(async (ctx: AppCtx, next: Next) => {
    setPageHeaders(ctx, scopeOf(ctx));
    try {
      await next();
    } catch (error) {
      const problem = problemFor(error, retryOf.get(ctx));
      if (problem) {
        if (error instanceof KnownError) {
          ctx.set('x-stack-known-error', error.code);
          for (const [name, value] of Object.entries(error.headers ?? {})) ctx.set(name, value);
        } else {
          ctx.set('x-stack-known-error', 'SERVICE_UNAVAILABLE');
          ctx.set('retry-after', '1');
        }
        show(ctx, problem);
        return;
      }
      app.log.error('unexpected error', { requestId: ctx.state.requestId, error: error instanceof Error ? (error.stack ?? error.message) : String(error) });
      ctx.set('x-stack-known-error', 'INTERNAL_ERROR');
      show(ctx, problemView(500, 'Something went wrong', `The error has been logged with the reference ${ctx.state.requestId}. Try again, or run “authlog login” again.`));
    }
  });

  async function projectOf(ctx: AppCtx, projectId: string | undefined): Promise<ProjectView> {
    const project = projectId !== undefined && UUID.test(projectId) ? await findProject(app.readModel, projectId) : undefined;
    if (!project) throw knownError('CURRENT_PROJECT_NOT_FOUND');
    retryOf.set(ctx, pageHref(project.id));
    return project;
  }

  /**
   * The live pending attempt the code names, under the same guess rules as POST /auth/cli/complete.
   * Only posted forms call it: reading the page never evaluates a code.
   */
  async function attemptOf(ctx: AppCtx, project: ProjectView, loginCode: string): Promise<ShownAttempt> {
    const cliAuthId = await attemptIdOfGuess(app, project, ctx.ip, loginCode);
    const attempt = await findCliAuth(app.readModel, project.id, cliAuthId);
    if (!attempt || attempt.status !== 'pending' || app.clock() >= attempt.expiresAtMillis) throw knownError('INVALID_LOGIN_CODE');
    // Where the CLI started, opened for the person deciding (sealed in the log and the read model).
    const open = async (v: CliAuthView['ip']) => (v === undefined ? undefined : await app.personal.show(v));
    return { ...attempt, ip: await open(attempt.ip), userAgent: await open(attempt.userAgent) };
  }

  /** The person signed in in this browser, for this project. */
  async function signedInOf(ctx: AppCtx, projectId: string): Promise<{ userId: string; sessionId: string; label: string } | undefined> {
    const refreshToken = readCookie(ctx, 'session', scopeOf(ctx));
    if (refreshToken === undefined) return undefined;
    const session = (await findSessionByRefreshToken(app, projectId, refreshToken))?.session;
    if (!session || session.isImpersonation || app.clock() >= session.expiresAtMillis) return undefined;
    const user = await findUser(app.readModel, app.personal, projectId, session.userId);
    if (!user) return undefined;
    return { userId: user.id, sessionId: session.id, label: user.primaryEmail ?? user.displayName ?? user.id };
  }

  const originOf = (ctx: AppCtx, projectId: string, actor: Origin['actor']): Origin => ({
    projectId,
    actor,
    requestId: ctx.state.requestId,
    ip: ctx.ip,
    userAgent: ctx.get('user-agent').slice(0, 512) || undefined,
  });
  const pageActor: Origin['actor'] = { kind: 'system', id: 'cli-approval-page' };

  /** A posted form of this page: its CSRF token checked first, then its fields. */
  async function postedForm<A extends PageAction>(ctx: AppCtx, action: A): Promise<{ fields: z.infer<(typeof forms)[A]>; project: ProjectView; loginCode: string }> {
    const raw = await readFormBody(ctx);
    verifyCsrf(app.hasher, ctx, scopeOf(ctx), action, raw.csrf);
    const parsed = forms[action].safeParse(raw);
    if (!parsed.success) throw knownError('SCHEMA_ERROR', 'The form was not complete. Go back, reload the page, and try again.');
    const fields = parsed.data as z.infer<(typeof forms)[A]>;
    const project = await projectOf(ctx, fields.project_id);
    const loginCode = displayCode(fields.login_code);
    retryOf.set(ctx, pageHref(project.id, loginCode));
    return { fields, project, loginCode };
  }

  const formContext = (ctx: AppCtx, project: PageProject, loginCode: string) => ({ project, loginCode, csrf: csrfTokens(app.hasher, ctx, scopeOf(ctx)) });

  const seeOther = (ctx: AppCtx, href: string): void => {
    ctx.status = 303;
    ctx.redirect(href);
  };

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
        originOf(ctx, project.id, pageActor),
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
      refreshToken = (await signInWithCode(app, project.id, code, originOf(ctx, project.id, pageActor))).refreshToken;
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
    await completeCliAuth(app, project.id, attempt.cliAuthId, person, originOf(ctx, project.id, { kind: 'user', id: person.userId, sessionId: person.sessionId }));
    show(ctx, outcomeView(project, 'approved'));
  });

  router.post('/deny', async (ctx) => {
    const { project, loginCode } = await postedForm(ctx, 'deny');
    const person = await signedInOf(ctx, project.id);
    if (!person) return seeOther(ctx, pageHref(project.id, loginCode));
    const attempt = await attemptOf(ctx, project, loginCode);
    await denyCliAuth(app, project.id, attempt.cliAuthId, person, originOf(ctx, project.id, { kind: 'user', id: person.userId, sessionId: person.sessionId }));
    show(ctx, outcomeView(project, 'denied'));
  });

  router.post('/sign-out', async (ctx) => {
    const { project, loginCode } = await postedForm(ctx, 'sign-out');
    const person = await signedInOf(ctx, project.id);
    if (person) await revokeSession(app, project.id, person.sessionId, 'sign-out', originOf(ctx, project.id, { kind: 'user', id: person.userId, sessionId: person.sessionId }));
    writeCookie(ctx, 'session', undefined, scopeOf(ctx));
    seeOther(ctx, pageHref(project.id, loginCode));
  });

  return router;
}
