// What the scenarios need before they start, made through the HTTP API as a client would:
// live sign-in codes, pending CLI attempts, users with browser sessions.
import { inParallel, postOk, TRUSTED_ORIGIN, type BenchService } from './service.ts';
import { post } from './post.ts';

/** The sign-in send limits (README "Limits"): 5 per email and 30 per address per 15 minutes. */
const SENDS_PER_ADDRESS = 30;
const SEND_WINDOW_MS = 15 * 60_000;
/** Codes live an hour of the service's clock; the clock moves one send window per 30 codes. */
const MAX_CODES = Math.floor((60 * 60_000) / SEND_WINDOW_MS - 1) * SENDS_PER_ADDRESS;

/**
 * Sends `count` sign-in codes, one per distinct email, and learns them from the recording
 * mailer. Every 30 sends the service's clock moves past the send window, so the per-address
 * limit never answers 429; the codes stay valid (an hour) while the clock moves at most 45 min.
 */
export async function sendSignInCodes(service: BenchService, count: number): Promise<string[]> {
  if (count > MAX_CODES) throw new Error(`at most ${MAX_CODES} sign-in codes stay valid while the clock steps over send windows`);
  const codes: string[] = [];
  for (let i = 0; i < count; i++) {
    if (i > 0 && i % SENDS_PER_ADDRESS === 0) service.clock.advance(SEND_WINDOW_MS + 1000);
    const email = `bench-${i}@example.com`;
    await postOk(service.url, '/api/v1/auth/otp/send-sign-in-code', service.clientHeaders, { email, callback_url: `${TRUSTED_ORIGIN}/signed-in` });
    const code = service.mailer.codeFor(email);
    if (!code) throw new Error(`no sign-in code was mailed to ${email}`);
    codes.push(code);
  }
  const check = await post(service.url, '/api/v1/auth/otp/sign-in/check-code', service.clientHeaders, { code: codes[0] });
  if (check.json?.is_code_valid !== true) throw new Error(`a freshly sent code does not check as valid: ${JSON.stringify(check.json)}`);
  return codes;
}

/** Initiates `count` CLI logins that stay pending for an hour; returns their polling codes. */
export async function pendingCliAttempts(service: BenchService, count: number): Promise<string[]> {
  return inParallel(count, 8, async () => {
    const started = await postOk(service.url, '/api/v1/auth/cli', service.clientHeaders, { expires_in_millis: 3_600_000 });
    return started.polling_code as string;
  });
}

export interface BrowserUser {
  userId: string;
  refreshToken: string;
}

/**
 * Users, each with a session created by the server key (as a browser would hold), refreshed
 * once so that the refresh scenario measures the read path: activity is then recorded at most
 * once per 15 minutes, not on every refresh.
 */
export async function browserUsers(service: BenchService, count: number): Promise<BrowserUser[]> {
  return inParallel(count, 8, async (i) => {
    const user = await postOk(service.url, '/api/v1/users', service.serverHeaders, { primary_email: `browser-${i}@example.com`, display_name: `Browser ${i}` });
    const session = await postOk(service.url, '/api/v1/auth/sessions', service.serverHeaders, { user_id: user.id });
    await postOk(service.url, '/api/v1/auth/sessions/current/refresh', { ...service.clientHeaders, 'x-stack-refresh-token': session.refresh_token }, {});
    return { userId: user.id as string, refreshToken: session.refresh_token as string };
  });
}
