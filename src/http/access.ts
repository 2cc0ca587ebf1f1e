// Who is calling: the x-stack-* access rules of API.md §1.
//   - x-stack-access-type names the level; when absent it is inferred from the strongest key sent.
//   - When it is given, only the credential of that level counts (the official SDK sends its
//     publishable key on server requests too); keys of other levels are ignored.
//   - `authorization: Bearer <key or admin access token>` is the same as the matching header.
//   - API keys are globally unique, so a key alone names its project; a project header, when
//     sent, must match.
//   - Client access needs no key unless the project requires one (keyless-client.ts): then the
//     project header names the project. A key that is sent must be valid all the same.
// Keys are looked up by their HMAC digest and compared in constant time; they are never stored.
import type { Next } from 'koa';
import type { AppContext } from '../app-context.ts';
import type { AppCtx, Caller } from './app-state.ts';
import { bearer, stackHeader } from './headers.ts';
import { knownError, type ErrorCode } from '../errors.ts';
import { findByDigests } from '../crypto/digests.ts';
import { findApiKey, findProject, isProjectAdmin, type AccessLevel, type ProjectView } from '../projections/project-projection.ts';
import { findSession } from '../projections/session-projection.ts';
import { mayActAsAdmin } from '../policy/session-authority.ts';
import { PUBLIC_CLIENT_SENTINEL, keylessClientOf } from './keyless-client.ts';

const LEVELS: readonly AccessLevel[] = ['client', 'server', 'admin'];
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

interface Credentials {
  client?: string;
  server?: string;
  adminKey?: string;
  adminToken?: string;
}

const INVALID_KEY: Record<'client' | 'server' | 'adminKey', ErrorCode> = {
  client: 'INVALID_PUBLISHABLE_CLIENT_KEY',
  server: 'INVALID_SECRET_SERVER_KEY',
  adminKey: 'INVALID_SUPER_SECRET_ADMIN_KEY',
};

function collectCredentials(ctx: AppCtx): Credentials {
  const sentClientKey = stackHeader(ctx, 'publishable-client-key');
  const creds: Credentials = {
    // Upstream's "no key" sentinel is no key.
    client: sentClientKey === PUBLIC_CLIENT_SENTINEL ? undefined : sentClientKey,
    server: stackHeader(ctx, 'secret-server-key'),
    adminKey: stackHeader(ctx, 'super-secret-admin-key'),
    adminToken: stackHeader(ctx, 'admin-access-token'),
  };
  const token = bearer(ctx);
  if (token) {
    if (token.startsWith('pck_')) creds.client ??= token;
    else if (token.startsWith('ssk_')) creds.server ??= token;
    else if (token.startsWith('sak_')) creds.adminKey ??= token;
    else if (token.split('.').length === 3) creds.adminToken ??= token;
    // Anything else may be a key of an unknown shape: try it as the server key, the page's form.
    else creds.server ??= token;
  }
  return creds;
}

/** The id as sent, cut to a sane length: it is echoed back in the answer. */
const projectNotFound = (projectId: string) =>
  knownError('CURRENT_PROJECT_NOT_FOUND', `The project with ID ${projectId.slice(0, 64)} does not exist.`, { project_id: projectId.slice(0, 64) });

function inferLevel(creds: Credentials): AccessLevel | undefined {
  if (creds.adminKey || creds.adminToken) return 'admin';
  if (creds.server) return 'server';
  if (creds.client) return 'client';
  return undefined;
}

async function checkKey(
  app: AppContext,
  kind: 'client' | 'server' | 'adminKey',
  key: string,
  headerProjectId: string | undefined,
): Promise<{ projectId: string; keyId: string }> {
  const expectedLevel: AccessLevel = kind === 'adminKey' ? 'admin' : kind;
  // Current secret first, then the previous one (a rotated AUTHLOG_SECRET keeps every key).
  const found = (await findByDigests(app.hasher.candidates('api-key', key), (digest) => findApiKey(app.readModel, digest)))?.value;
  // The lookup is by an HMAC of the key, which an attacker cannot steer, so its timing says
  // nothing about how much of a guessed key is right.
  // A key rotated out works until the end of its grace, by this clock; a cached record cannot outlive it.
  const ended = found?.notAfterMillis !== undefined && !(app.clock() < found.notAfterMillis);
  if (!found || ended || found.level !== expectedLevel || (headerProjectId !== undefined && found.projectId !== headerProjectId)) {
    // The official SDK reads the project id from the details.
    throw knownError(INVALID_KEY[kind], undefined, { project_id: headerProjectId ?? found?.projectId ?? null });
  }
  return { projectId: found.projectId, keyId: found.keyId };
}

/** Resolves the caller from the headers; throws the API.md error when the credentials do not hold. */
export async function resolveCaller(app: AppContext, ctx: AppCtx): Promise<Caller> {
  const headerProjectId = stackHeader(ctx, 'project-id');
  const declared = stackHeader(ctx, 'access-type');
  if (declared !== undefined && !LEVELS.includes(declared as AccessLevel)) throw knownError('INVALID_ACCESS_TYPE', undefined, { accessType: declared.slice(0, 64) });
  const creds = collectCredentials(ctx);
  const level = (declared as AccessLevel | undefined) ?? inferLevel(creds);
  if (!level) throw knownError('ACCESS_TYPE_REQUIRED');

  let headerProject: ProjectView | undefined;
  if (headerProjectId !== undefined) {
    headerProject = UUID.test(headerProjectId) ? await findProject(app.readModel, headerProjectId) : undefined;
    if (!headerProject) {
      throw projectNotFound(headerProjectId);
    }
  }

  let projectId: string;
  let actor: Caller['actor'];
  if (level === 'admin' && !creds.adminKey && creds.adminToken) {
    const verified = await app.tokens.verify(creds.adminToken, app.clock());
    if (!verified || (headerProjectId !== undefined && verified.projectId !== headerProjectId)) throw knownError('INVALID_ADMIN_ACCESS_TOKEN');
    // A token of an impersonation session acts for its user, never with that user's admin rights.
    if (verified.actorSub !== undefined) throw knownError('INVALID_ADMIN_ACCESS_TOKEN');
    if (!(await isProjectAdmin(app.readModel, verified.projectId, verified.userId))) throw knownError('INVALID_ADMIN_ACCESS_TOKEN');
    // Admin access is too strong to outlive its session by the token's 10 minutes: a signed-out
    // or revoked admin session stops at once. And only a session the admin started themselves
    // carries it: one a server key created for them would make the key a named admin.
    const session = await findSession(app.readModel, verified.projectId, verified.sessionId);
    if (session?.userId !== verified.userId || !mayActAsAdmin(session)) throw knownError('INVALID_ADMIN_ACCESS_TOKEN');
    projectId = verified.projectId;
    actor = { kind: 'admin-user', id: verified.userId, sessionId: verified.sessionId };
  } else {
    const kind = level === 'admin' ? 'adminKey' : level;
    const key = creds[kind];
    if (!key && kind === 'client' && headerProject) return keylessClientOf(headerProject);
    if (!key) throw knownError('ACCESS_TYPE_REQUIRED', `The ${level} access type needs the x-stack-${kind === 'adminKey' ? 'super-secret-admin-key' : kind === 'server' ? 'secret-server-key' : 'publishable-client-key'} header.`);
    const found = await checkKey(app, kind, key, headerProjectId);
    projectId = found.projectId;
    actor = { kind: kind === 'adminKey' ? 'admin-key' : kind === 'server' ? 'server-key' : 'client-key', id: found.keyId };
  }
  // Both paths above refuse a credential of another project than the header's, so when the
  // header named the project it is the one already read.
  const project = headerProject ?? (await findProject(app.readModel, projectId));
  if (!project) throw knownError('CURRENT_PROJECT_NOT_FOUND', undefined, { project_id: projectId });
  return { project, accessType: level, actor };
}

/**
 * The caller of OAuth's token endpoint, which authenticates in the body (client_secret_post):
 * `client_id` is the project id and `client_secret` one of its client or server keys.
 */
export async function resolveOAuthClient(app: AppContext, clientId: string, clientSecret: string): Promise<Caller> {
  const project = UUID.test(clientId) ? await findProject(app.readModel, clientId) : undefined;
  if (!project) throw projectNotFound(clientId);
  if (clientSecret === PUBLIC_CLIENT_SENTINEL) return keylessClientOf(project);
  const kind = clientSecret.startsWith('ssk_') ? 'server' : 'client';
  const found = await checkKey(app, kind, clientSecret, project.id);
  return { project, accessType: kind, actor: { kind: kind === 'server' ? 'server-key' : 'client-key', id: found.keyId } };
}

/** Route middleware: the endpoint accepts `allowed` levels (the lowest and everything above). */
export function requireAccess(app: AppContext, lowest: AccessLevel) {
  const allowed = LEVELS.slice(LEVELS.indexOf(lowest));
  return async function access(ctx: AppCtx, next: Next): Promise<void> {
    const caller = await resolveCaller(app, ctx);
    if (!allowed.includes(caller.accessType)) {
      const list = allowed.map((l) => `'${l}'`).join(' or ');
      throw knownError('INSUFFICIENT_ACCESS_TYPE', `The x-stack-access-type header must be ${list}, but was '${caller.accessType}'.`, {
        actual_access_type: caller.accessType,
        allowed_access_types: allowed,
      });
    }
    ctx.state.caller = caller;
    return next();
  };
}

/** The caller set by requireAccess (a route without it is a bug). */
export function callerOf(ctx: AppCtx): Caller {
  if (!ctx.state.caller) throw new Error('route reads the caller without requireAccess');
  return ctx.state.caller;
}
