// Sets ctx.ip, which every handler, rate limit and event reads, to the client's address under
// TRUST_PROXY (src/trust-proxy.ts has the rule).
import type { Next } from 'koa';
import type { AppCtx } from './app-state.ts';
import { clientAddressBehind, unmapped, type TrustProxy } from '../trust-proxy.ts';

export function clientAddress(trust: TrustProxy) {
  return async (ctx: AppCtx, next: Next): Promise<void> => {
    if (trust.kind === 'cidrs') ctx.request.ip = clientAddressBehind(trust.list, ctx.socket.remoteAddress ?? '', ctx.get('x-forwarded-for') || undefined);
    else ctx.request.ip = unmapped(ctx.request.ip); // 'hops' is Koa's own app.proxy + maxIpsCount
    await next();
  };
}

