// Reads an HTML form post (application/x-www-form-urlencoded, at most 100 kB) into a plain record.
// The JSON body reader of the API never sees the page's posts: the page router runs before it.
import type { AppCtx } from '../app-state.ts';
import { knownError } from '../../errors.ts';
import { MAX_BODY_BYTES } from '../body.ts';

export async function readFormBody(ctx: AppCtx): Promise<Record<string, string>> {
  if (!/^application\/x-www-form-urlencoded\b/i.test(ctx.get('content-type'))) {
    throw knownError('BODY_PARSING_ERROR', 'This page accepts its own forms only.');
  }
  if (Number(ctx.get('content-length') || NaN) > MAX_BODY_BYTES) {
    ctx.set('connection', 'close');
    throw knownError('REQUEST_TOO_LARGE');
  }
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of ctx.req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_BODY_BYTES) {
      ctx.set('connection', 'close');
      throw knownError('REQUEST_TOO_LARGE');
    }
    chunks.push(chunk);
  }
  const fields = Object.create(null) as Record<string, string>;
  for (const [name, value] of new URLSearchParams(Buffer.concat(chunks).toString('utf8'))) {
    // A field sent twice is not something the page's forms do.
    if (Object.hasOwn(fields, name)) throw knownError('SCHEMA_ERROR', `The form field ${name.slice(0, 40)} was sent twice.`);
    fields[name] = value;
  }
  return fields;
}
