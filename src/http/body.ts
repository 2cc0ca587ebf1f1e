// Reads a JSON body of at most 100 kB. Anything else is a clear 4xx, never a 500.
import type { IncomingMessage } from 'node:http';
import type { Next } from 'koa';
import type { AppCtx } from './app-state.ts';
import { bodyParsingError, knownError } from '../errors.ts';

export const MAX_BODY_BYTES = 100_000;

/**
 * Paths that take an HTML-form body: OAuth's token endpoint, which RFC 6749 (§4.1.3, §6) defines
 * as form-encoded. Everywhere else a form body is refused: the API speaks JSON, and a form that
 * reached a JSON endpoint would be a browser's cross-site post.
 */
const FORM_BODY_PATHS = new Set(['/api/v1/auth/oauth/token']);
export const FORM_CONTENT_TYPE = /^application\/x-www-form-urlencoded\b/i;

/** A form's fields; a field given twice is refused (RFC 6749 §3.2; the page's forms never do it). */
export function parseForm(text: string): Record<string, string> {
  const fields = Object.create(null) as Record<string, string>;
  for (const [name, value] of new URLSearchParams(text)) {
    if (Object.hasOwn(fields, name)) throw bodyParsingError(`The form field ${JSON.stringify(name.slice(0, 50))} is given more than once.`);
    fields[name] = value;
  }
  return fields;
}

/**
 * How much of an oversized body is still read, and dropped, after its 413 is sent. Closing the
 * socket while the client is still sending makes the kernel answer with a reset, which can reach
 * the client before the 413 does (fetch then fails with no response at all, on every Node
 * version, more often on newer ones); reading the rest also leaves the connection clean for the
 * next request, since HTTP's framing says where the body ends. A client that goes on past this is
 * cut off. A slow one is bounded by the server's request timeout like any other request.
 */
export const DISCARD_AFTER_TOO_LARGE_BYTES = 1_000_000;

function discardRest(req: IncomingMessage): void {
  if (req.complete) return;
  let discarded = 0;
  const onData = (chunk: Buffer) => {
    discarded += chunk.length;
    if (discarded > DISCARD_AFTER_TOO_LARGE_BYTES) {
      req.off('data', onData);
      req.socket.destroy();
    }
  };
  req.on('data', onData);
  req.resume();
}

function tooLarge(ctx: AppCtx): never {
  discardRest(ctx.req);
  throw knownError('REQUEST_TOO_LARGE');
}

/**
 * The request's bytes, up to the limit. With 'data' listeners rather than `for await`: the async
 * iterator costs a promise per chunk and was a tenth of a small read request's CPU.
 */
export function readRequestBytes(ctx: AppCtx): Promise<Buffer> {
  const declared = Number(ctx.get('content-length') || NaN);
  if (declared > MAX_BODY_BYTES) tooLarge(ctx);
  const req = ctx.req;
  return new Promise<Buffer>((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const cleanup = () => {
      req.off('data', onData);
      req.off('end', onEnd);
      req.off('error', onError);
      req.off('close', onClose);
    };
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_BODY_BYTES) {
        cleanup();
        try {
          tooLarge(ctx);
        } catch (error) {
          reject(error);
        }
        return;
      }
      chunks.push(chunk);
    };
    const onEnd = () => {
      cleanup();
      resolve(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, size));
    };
    const onError = (error: Error) => {
      cleanup();
      reject(error);
    };
    // The client went away before the body ended: nobody is left to answer.
    const onClose = () => {
      if (req.complete) return;
      cleanup();
      reject(new Error('request aborted before its body ended'));
    };
    req.on('data', onData);
    req.on('end', onEnd);
    req.on('error', onError);
    req.on('close', onClose);
  });
}

export async function readJsonBody(ctx: AppCtx, next: Next): Promise<void> {
  if (ctx.method === 'GET' || ctx.method === 'HEAD' || ctx.method === 'OPTIONS') return next();
  const raw = await readRequestBytes(ctx);
  const text = raw.toString('utf8');
  if (text.trim() === '') {
    ctx.state.body = undefined;
    return next();
  }
  const type = ctx.get('content-type');
  if (FORM_CONTENT_TYPE.test(type) && FORM_BODY_PATHS.has(ctx.path)) {
    ctx.state.body = parseForm(text);
    return next();
  }
  if (type && !/^application\/([\w.+-]*\+)?json\b/i.test(type) && !/^text\/plain\b/i.test(type)) {
    throw bodyParsingError(`Unsupported content type ${JSON.stringify(type.slice(0, 100))}; send application/json.`);
  }
  try {
    ctx.state.body = JSON.parse(text) as unknown;
  } catch {
    throw bodyParsingError('The request body is not valid JSON.');
  }
  return next();
}
