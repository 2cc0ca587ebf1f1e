// The CLI poll's answer in two dialects. The reference page (API.md §2) says 201 means "keep
// polling" and 200 a final answer; upstream Stack Auth, and so the official SDK's
// `promptCliLogin`, has it the other way round and names the states differently. Which one a
// request gets is chosen at the edge: requests with a client-version header (every official SDK
// sends `x-stack-client-version` or `x-hexclave-client-version`) get upstream's; all others the
// reference page's. The events and the decision behind both are the same.
import type { AppCtx } from './app-state.ts';
import { sentStackHeader } from './headers.ts';

export type PollState =
  | { status: 'pending' }
  | { status: 'completed'; refreshToken: string }
  | { status: 'used' }
  | { status: 'expired' }
  /** The person said no on the approval page (upstream has no such state; the SDK reports it as an error). */
  | { status: 'denied' };

export type PollDialect = 'reference' | 'upstream';

export const pollDialectOf = (ctx: AppCtx): PollDialect => (sentStackHeader(ctx, 'client-version') ? 'upstream' : 'reference');

export interface PollAnswer {
  httpStatus: 200 | 201;
  body: { status: string; refresh_token?: string };
}

export function pollAnswer(state: PollState, dialect: PollDialect): PollAnswer {
  switch (state.status) {
    case 'pending':
      return dialect === 'upstream' ? { httpStatus: 200, body: { status: 'waiting' } } : { httpStatus: 201, body: { status: 'pending' } };
    case 'completed':
      return dialect === 'upstream'
        ? { httpStatus: 201, body: { status: 'success', refresh_token: state.refreshToken } }
        : { httpStatus: 200, body: { status: 'completed', refresh_token: state.refreshToken } };
    case 'used':
    case 'expired':
    case 'denied':
      return { httpStatus: 200, body: { status: state.status } };
  }
}
