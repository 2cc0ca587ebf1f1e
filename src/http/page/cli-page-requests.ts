// What a request to the approval page names, read and checked: the project of its link, the
// pending login attempt its code stands for (under the guess rules of POST /auth/cli/complete),
// the person signed in in this browser, and a posted form (its CSRF token first, then its fields).
import { z } from 'zod';
import type { AppContext } from '../../app-context.ts';
import type { AppCtx } from '../app-state.ts';
import { knownError } from '../../errors.ts';
import { normaliseLoginCode } from '../../crypto/codes.ts';
import { findProject, type ProjectView } from '../../projections/project-projection.ts';
import { findCliAuth, type CliAuthView } from '../../projections/cli-auth-projection.ts';
import { findUser } from '../../projections/user-projection.ts';
import { findSessionByRefreshToken } from '../../commands/session/find-session-by-refresh-token.ts';
import { NONCE_LENGTH, OTP_LENGTH, SIGN_IN_CODE_LENGTH } from '../../commands/sign-in-code/sign-in-code-streams.ts';
import { attemptIdOfGuess } from '../login-code-guess.ts';
import { isCliAuthOpen } from '../../policy/cli-auth-poll.ts';
import { csrfTokens, verifyCsrf, type PageAction } from './csrf.ts';
import { readCookie, type CookieScope } from './page-cookies.ts';
import { readFormBody } from './form-body.ts';
import type { PageProject, ShownAttempt } from './cli-page-views.ts';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

const target = { csrf: z.string().max(200), project_id: z.string().max(64), login_code: z.string().max(64) };
const forms = {
  email: z.strictObject({ ...target, email: z.string().max(254) }),
  otp: z.strictObject({ ...target, email: z.string().max(254), nonce: z.string().length(NONCE_LENGTH), otp: z.string().max(20) }),
  review: z.strictObject(target),
  approve: z.strictObject({ ...target, confirm: z.literal('yes').optional() }),
  deny: z.strictObject(target),
  'sign-out': z.strictObject(target),
} satisfies Record<PageAction, z.ZodType>;

/** XXXX-XXXX, as the terminal shows it. */
export const displayCode = (input: string): string => {
  const code = normaliseLoginCode(input);
  return code.length === 8 ? `${code.slice(0, 4)}-${code.slice(4)}` : code;
};

export const pageHref = (projectId: string, loginCode?: string): string =>
  `/cli?project_id=${encodeURIComponent(projectId)}${loginCode === undefined ? '' : `&login_code=${encodeURIComponent(loginCode)}`}`;

export interface SignedInPerson {
  userId: string;
  sessionId: string;
  label: string;
}

export function cliPageRequests(app: AppContext) {
  const scopeOf = (ctx: AppCtx): CookieScope => ({ secure: ctx.secure || app.config.PUBLIC_URL?.startsWith('https:') === true });
  /** Where "Start again" leads, when the request named a project. */
  const retryOf = new WeakMap<AppCtx, string>();

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
    if (!attempt || !isCliAuthOpen(attempt, app.clock())) throw knownError('INVALID_LOGIN_CODE');
    // Where the CLI started, opened for the person deciding (sealed in the log and the read model).
    const open = async (v: CliAuthView['ip']) => (v === undefined ? undefined : await app.personal.show(v));
    return { ...attempt, ip: await open(attempt.ip), userAgent: await open(attempt.userAgent) };
  }

  /** The person signed in in this browser, for this project. */
  async function signedInOf(ctx: AppCtx, projectId: string): Promise<SignedInPerson | undefined> {
    const refreshToken = readCookie(ctx, 'session', scopeOf(ctx));
    if (refreshToken === undefined) return undefined;
    const session = (await findSessionByRefreshToken(app, projectId, refreshToken))?.session;
    if (!session || session.isImpersonation || app.clock() >= session.expiresAtMillis) return undefined;
    const user = await findUser(app.readModel, app.personal, projectId, session.userId);
    if (!user) return undefined;
    return { userId: user.id, sessionId: session.id, label: user.primaryEmail ?? user.displayName ?? user.id };
  }

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

  return { scopeOf, retryHrefOf: (ctx: AppCtx) => retryOf.get(ctx), projectOf, attemptOf, signedInOf, postedForm, formContext };
}
