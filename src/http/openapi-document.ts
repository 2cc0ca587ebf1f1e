// The OpenAPI 3.1 document, built from the route descriptions (route-catalogue.ts) and the error
// catalogue: request and response schemas are z.toJSONSchema of the zod schemas the handlers
// use, so there is no second copy to drift. Built once per process; it does not depend on state.
import { z } from 'zod';
import { ERROR_CATALOGUE, type ErrorCode } from '../errors.ts';
import { ROUTE_DESCRIPTIONS } from './route-catalogue.ts';
import { documentedErrors, type RouteDescription } from './route-description.ts';

type Json = Record<string, unknown>;

/** JSON Schema 2020-12 (OpenAPI 3.1's dialect) of a zod schema; `input` for what clients send. */
function jsonSchema(schema: z.ZodType, io: 'input' | 'output'): Json {
  const { $schema: _dialect, ...rest } = z.toJSONSchema(schema, { io, unrepresentable: 'any' }) as Json;
  return rest;
}

/** The error body, restricted to the codes given. */
export const errorBody = (codes: readonly ErrorCode[]) =>
  z.strictObject({
    code: z.enum(codes as [ErrorCode, ...ErrorCode[]]),
    error: z.string().describe('a human-readable message'),
    details: z.record(z.string(), z.unknown()).optional(),
  });

/** `/api/v1/users/:userId` -> `/api/v1/users/{userId}` */
export const openApiPath = (path: string): string => path.replace(/:(\w+)/g, '{$1}');

const ACCESS_SCHEMES = {
  client: ['publishableClientKey', 'secretServerKey', 'superSecretAdminKey', 'adminAccessToken'],
  server: ['secretServerKey', 'superSecretAdminKey', 'adminAccessToken'],
  admin: ['superSecretAdminKey', 'adminAccessToken'],
} as const;

function security(route: RouteDescription): Json[] | undefined {
  if (route.access === 'public') return [];
  if (route.access === 'metrics') return [{ metricsToken: [] }];
  // Alternatives: any one credential of the level or above (a key may also come as a bearer token).
  return ACCESS_SCHEMES[route.access].map((name) => ({ [name]: [] }));
}

function parameters(route: RouteDescription): Json[] {
  const out: Json[] = [];
  for (const name of route.path.match(/:(\w+)/g)?.map((p) => p.slice(1)) ?? []) {
    const schema = route.params?.[name];
    out.push({ name, in: 'path', required: true, schema: schema ? jsonSchema(schema, 'input') : { type: 'string' } });
  }
  for (const [name, field] of Object.entries(route.query?.shape ?? {})) {
    const schema = field as z.ZodType;
    out.push({ name, in: 'query', required: !schema.safeParse(undefined).success, schema: jsonSchema(schema, 'input') });
  }
  for (const h of route.headers ?? []) out.push({ name: h.name, in: 'header', required: h.required, description: h.description, schema: { type: 'string' } });
  return out;
}

function responses(route: RouteDescription): Json {
  const out: Json = {};
  for (const [status, r] of Object.entries(route.responses)) {
    if (!r) continue;
    out[status] = { description: r.description, content: { [r.contentType ?? 'application/json']: { schema: jsonSchema(r.schema, 'output') } } };
  }
  const byStatus = new Map<number, ErrorCode[]>();
  for (const code of documentedErrors(route)) {
    const status = ERROR_CATALOGUE[code].status;
    byStatus.set(status, [...(byStatus.get(status) ?? []), code]);
  }
  for (const [status, codes] of [...byStatus].sort(([a], [b]) => a - b)) {
    out[String(status)] = {
      description: codes.map((c) => `\`${c}\`: ${ERROR_CATALOGUE[c].message}`).join('\n\n'),
      headers: { 'x-stack-known-error': { description: 'The error code.', schema: { type: 'string', enum: codes } } },
      content: { 'application/json': { schema: jsonSchema(errorBody(codes), 'output') } },
    };
  }
  return out;
}

function operation(route: RouteDescription): Json {
  const op: Json = {
    operationId: `${route.method.toLowerCase()}${openApiPath(route.path).replace(/[^A-Za-z0-9]+(\w)?/g, (_, c: string | undefined) => (c ?? '').toUpperCase())}`,
    tags: [route.tag],
    summary: route.summary,
    ...(route.description ? { description: route.description } : {}),
    'x-access-level': route.access,
    security: security(route),
    parameters: parameters(route),
    responses: responses(route),
  };
  if (route.body) {
    op.requestBody = { required: !route.bodyOptional, content: { [route.bodyContentType ?? 'application/json']: { schema: jsonSchema(route.body, 'input') } } };
  }
  return op;
}

const apiKey = (name: string, description: string): Json => ({ type: 'apiKey', in: 'header', name, description });

export function buildOpenApiDocument(routes: readonly RouteDescription[] = ROUTE_DESCRIPTIONS): Json {
  const paths: Record<string, Record<string, Json>> = {};
  for (const route of routes) {
    const item = (paths[openApiPath(route.path)] ??= {});
    item[route.method.toLowerCase()] = operation(route);
  }
  return {
    openapi: '3.1.0',
    info: {
      title: 'authlog',
      version: '0.1.0',
      description:
        'Event-sourced authentication service speaking the Stack Auth HTTP API. Every error is `{code, error, details?}` with the header `x-stack-known-error`; every response carries `x-request-id`. Access levels are ordered client < server < admin; an operation names the lowest it accepts (`x-access-level`). A key may also be sent as `authorization: Bearer <key>`.',
    },
    tags: [...new Set(routes.map((r) => r.tag))].map((name) => ({ name })),
    paths,
    components: {
      securitySchemes: {
        projectId: apiKey('x-stack-project-id', 'The project (optional with a key: keys are globally unique).'),
        publishableClientKey: apiKey('x-stack-publishable-client-key', 'Client access.'),
        secretServerKey: apiKey('x-stack-secret-server-key', 'Server access.'),
        superSecretAdminKey: apiKey('x-stack-super-secret-admin-key', 'Admin access.'),
        adminAccessToken: apiKey('x-stack-admin-access-token', 'Admin access as a person: an access token of a project admin.'),
        metricsToken: { type: 'http', scheme: 'bearer', description: 'METRICS_TOKEN.' },
      },
    },
  };
}

let built: Json | undefined;
/** The document of this build, made on first use. */
export const openApiDocument = (): Json => (built ??= buildOpenApiDocument());
