// Errors of the approval page become pages (the API's JSON errors are for programs): what a person
// is told when the flow cannot go on, never a stack trace. Bugs are logged with the request id and
// shown as a plain apology.
import type { Next } from 'koa';
import type { AppContext } from '../../app-context.ts';
import { KnownError } from '../../errors.ts';
import { BackendUnavailableError } from '../../backend-unavailable.ts';
import type { AppCtx } from '../app-state.ts';
import { problemView, type RenderedPage } from './cli-page-views.ts';
import { show } from './page-response.ts';

function problemFor(error: unknown, retryHref: string | undefined): RenderedPage | undefined {
  if (error instanceof KnownError) {
    switch (error.code) {
      case 'INVALID_LOGIN_CODE':
        return problemView(
          400,
          'This login code is not valid',
          'It has expired, was already approved or denied, or was never issued. Run “authlog login” again in your terminal for a new code.',
          retryHref,
        );
      case 'FORM_EXPIRED':
        return problemView(403, 'This form has expired', 'The form was not sent from this page in this browser, or it is too old. Go back, reload the page, and try again.', retryHref);
      case 'RATE_LIMITED':
        return problemView(429, 'Too many attempts', error.message, retryHref);
      case 'CURRENT_PROJECT_NOT_FOUND':
        return problemView(400, 'Unknown project', 'This link does not name a project of this service. Open the link your terminal printed, as it is.');
      default:
        return problemView(error.status, 'This request could not be completed', error.message, retryHref);
    }
  }
  if (error instanceof BackendUnavailableError) {
    return problemView(error.status, 'Temporarily unavailable', 'A part of the service is unavailable. Nothing was changed. Try again in a moment.', retryHref);
  }
  return undefined;
}

/** `retryHrefOf`: where "Start again" leads, when the request named a project. */
export function cliPageProblems(app: Pick<AppContext, 'log'>, retryHrefOf: (ctx: AppCtx) => string | undefined) {
  return async function cliPageProblemsMiddleware(ctx: AppCtx, next: Next): Promise<void> {
    try {
      await next();
    } catch (error) {
      const problem = problemFor(error, retryHrefOf(ctx));
      if (problem) {
        if (error instanceof KnownError) {
          ctx.set('x-stack-known-error', error.code);
          for (const [name, value] of Object.entries(error.headers ?? {})) ctx.set(name, value);
        } else {
          ctx.set('x-stack-known-error', 'SERVICE_UNAVAILABLE');
          ctx.set('retry-after', '1');
        }
        show(ctx, problem);
        return;
      }
      app.log.error('unexpected error', { requestId: ctx.state.requestId, error: error instanceof Error ? (error.stack ?? error.message) : String(error) });
      ctx.set('x-stack-known-error', 'INTERNAL_ERROR');
      show(ctx, problemView(500, 'Something went wrong', `The error has been logged with the reference ${ctx.state.requestId}. Try again, or run “authlog login” again.`));
    }
  };
}
