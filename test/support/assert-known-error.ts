// The assertion every HTTP suite makes of an error answer: this status, this catalogued code, in
// the body and in the x-stack-known-error header.
import * as assert from 'uvu/assert';
import type { ApiResponse } from './service.ts';

export function assertKnownError(res: ApiResponse, status: number, code: string): void {
  assert.is(res.status, status, res.text);
  assert.is(res.json?.code, code, res.text);
  assert.is(res.headers.get('x-stack-known-error'), code);
}
