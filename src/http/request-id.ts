// Every response names its request (the client's `x-request-id` when it is a plain id, else a new
// uuid) and is never cached: answers of this API are about one caller at one moment.
import { randomUUID } from 'node:crypto';
import type { AppCtx } from './app-state.ts';

const REQUEST_ID = /^[\w.:-]{1,100}$/;

export function assignRequestId(ctx: AppCtx): void {
  const incoming = ctx.get('x-request-id');
  ctx.state.requestId = REQUEST_ID.test(incoming) ? incoming : randomUUID();
  ctx.set('x-request-id', ctx.state.requestId);
  ctx.set('cache-control', 'no-store');
}
