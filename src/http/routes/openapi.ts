// GET /api/v1/openapi.json: the OpenAPI 3.1 description of this API, built from the route
// descriptions next to each handler (openapi/document.ts).
import Router from '@koa/router';
import { z } from 'zod';
import type { AppState } from '../app-state.ts';
import { describeRoutes } from '../route-description.ts';

export const openApiRouteDescriptions = describeRoutes({
  method: 'GET',
  path: '/api/v1/openapi.json',
  tag: 'Operations',
  summary: 'This document: OpenAPI 3.1.',
  access: 'public',
  responses: { 200: { description: 'The OpenAPI document.', schema: z.looseObject({ openapi: z.literal('3.1.0'), paths: z.record(z.string(), z.unknown()) }) } },
  errors: [],
});

/** `document` is passed in: it is built from every routes file, this one included. */
export function openApiRoutes(document: () => unknown): Router<AppState> {
  const router = new Router<AppState>();
  router.get('/api/v1/openapi.json', (ctx) => {
    ctx.body = document();
  });
  return router;
}
