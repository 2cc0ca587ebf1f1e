// Reads an HTML form post (application/x-www-form-urlencoded, at most 100 kB) into a plain record.
// The JSON body reader of the API never sees the page's posts: the page router runs before it.
import type { AppCtx } from '../app-state.ts';
import { bodyParsingError } from '../../errors.ts';
import { FORM_CONTENT_TYPE, parseForm, readRequestBytes } from '../body.ts';

export async function readFormBody(ctx: AppCtx): Promise<Record<string, string>> {
  if (!FORM_CONTENT_TYPE.test(ctx.get('content-type'))) {
    throw bodyParsingError('This page accepts its own forms only.');
  }
  return parseForm((await readRequestBytes(ctx)).toString('utf8'));
}
