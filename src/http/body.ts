// Reads a JSON body of at most 100 kB. Anything else is a clear 4xx, never a 500.
import type { Next } from 'koa';
import type { AppCtx } from './app-state.ts';
import { knownError } from '../errors.ts';

export const MAX_BODY_BYTES = 100_000;

/**
 * The rest of an oversized body is never read, so the connection cannot carry another request:
 * its unread bytes would be parsed as one. The answer closes it.
 */
function tooLarge(ctx: AppCtx): never {
  ctx.set('connection', 'close');
  throw knownError('REQUEST_TOO_LARGE');
}

export async function readJsonBody(ctx: AppCtx, next: Next): Promise<void> {
  if (ctx.method === 'GET' || ctx.method === 'HEAD' || ctx.method === 'OPTIONS') return next();
  const declared = Number(ctx.get('content-length') || NaN);
  if (declared > MAX_BODY_BYTES) tooLarge(ctx);
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of ctx.req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_BODY_BYTES) tooLarge(ctx);
    chunks.push(chunk);
  }
  const text = Buffer.concat(chunks).toString('utf8');
  if (text.trim() === '') {
    ctx.state.body = undefined;
    return next();
  }
  const type = ctx.get('content-type');
  if (type && !/^application\/([\w.+-]*\+)?json\b/i.test(type) && !/^text\/plain\b/i.test(type)) {
    throw knownError('BODY_PARSING_ERROR', `Unsupported content type ${JSON.stringify(type.slice(0, 100))}; send application/json.`);
  }
  try {
    ctx.state.body = JSON.parse(text) as unknown;
  } catch {
    throw knownError('BODY_PARSING_ERROR', 'The request body is not valid JSON.');
  }
  return next();
}
