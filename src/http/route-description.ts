// What a route promises, written next to its handler (each routes/*.ts exports a list of these):
// the OpenAPI document (openapi/document.ts) is built from them, and test/openapi.test.ts checks
// that every route the routers have is described and that real answers match the description.
// The schemas are the very zod schemas the handlers parse with, so the two cannot drift.
import type { z } from 'zod';
import type { ErrorCode } from '../errors.ts';

/**
 * Who may call: `public` needs nothing; client < server < admin are the x-stack-* access levels
 * (http/access.ts: the lowest level accepted); `metrics` is the bearer METRICS_TOKEN.
 */
export type RouteAccess = 'public' | 'client' | 'server' | 'admin' | 'metrics';

export interface ResponseDescription {
  description: string;
  /** The body; checked with `parse` in the tests, so strict objects catch undocumented fields. */
  schema: z.ZodType;
  /** Default application/json. */
  contentType?: 'application/json' | 'text/plain';
}

export interface HeaderDescription {
  name: string;
  required: boolean;
  description: string;
}

export interface RouteDescription {
  method: 'GET' | 'POST' | 'PATCH' | 'DELETE';
  /** As registered with the router (koa style: `/api/v1/users/:userId`). */
  path: string;
  /** Groups operations in the document (e.g. "CLI authentication"). */
  tag: string;
  summary: string;
  description?: string;
  access: RouteAccess;
  /** Path parameters by name; the path names them all. */
  params?: Record<string, z.ZodType>;
  query?: z.ZodObject;
  headers?: HeaderDescription[];
  body?: z.ZodType;
  /** Default application/json; OAuth's token endpoint takes a form. */
  bodyContentType?: 'application/json' | 'application/x-www-form-urlencoded';
  /** The body may be left out altogether (it is then read as `{}`). */
  bodyOptional?: boolean;
  /** The answers that are not errors, by status. */
  responses: Partial<Record<number, ResponseDescription>>;
  /**
   * Errors this route itself answers (`{code, error, details?}`). Those every route of its kind
   * can answer (bad credentials, malformed bodies, backend down) are added by impliedErrors.
   */
  errors: readonly ErrorCode[];
}

/** Typed list, so that a routes file's descriptions are checked where they are written. */
export const describeRoutes = (...routes: RouteDescription[]): readonly RouteDescription[] => routes;

const ACCESS_ERRORS: readonly ErrorCode[] = [
  'ACCESS_TYPE_REQUIRED',
  'INVALID_ACCESS_TYPE',
  'CURRENT_PROJECT_NOT_FOUND',
  'INVALID_PUBLISHABLE_CLIENT_KEY',
  'PUBLISHABLE_CLIENT_KEY_REQUIRED_FOR_PROJECT',
  'INVALID_SECRET_SERVER_KEY',
  'INVALID_SUPER_SECRET_ADMIN_KEY',
  'INVALID_ADMIN_ACCESS_TOKEN',
  'INSUFFICIENT_ACCESS_TYPE',
  // A repeated x-stack-* header.
  'SCHEMA_ERROR',
];

/** The errors a route answers because of what it is (its access level, a body, a query), not what it does. */
export function impliedErrors(route: RouteDescription): ErrorCode[] {
  const implied: ErrorCode[] = [];
  const keyed = route.access === 'client' || route.access === 'server' || route.access === 'admin';
  if (keyed) implied.push(...ACCESS_ERRORS, 'SERVICE_UNAVAILABLE');
  if (route.access === 'metrics') implied.push('INVALID_METRICS_TOKEN');
  // The body reader runs before any route, on every method that may carry a body.
  if (route.method !== 'GET') implied.push('BODY_PARSING_ERROR', 'REQUEST_TOO_LARGE');
  if (route.body || route.query) implied.push('SCHEMA_ERROR');
  if (keyed && route.method !== 'GET') implied.push('CONCURRENT_MODIFICATION');
  return implied;
}

/** Every error code the route may answer, each once, in catalogue order of first mention. */
export const documentedErrors = (route: RouteDescription): ErrorCode[] => [...new Set([...route.errors, ...impliedErrors(route)])];
