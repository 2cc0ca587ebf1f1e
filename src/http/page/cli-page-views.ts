// The steps of the CLI approval page, as HTML: enter the login code, sign in with an emailed
// code, see what asked to log in and approve or deny it, and the outcome. Pure functions of what
// the route found; everything shown is escaped by `html`.
import type { CliAuthView } from '../../projections/cli-auth-projection.ts';
import type { PageAction } from './csrf.ts';
import { page } from './html.ts';
import { html, type Html } from '../../markup.ts';

export interface PageProject {
  id: string;
  name: string;
}

interface FormContext {
  project: PageProject;
  /** As the person should see it: XXXX-XXXX. */
  loginCode: string;
  csrf: (action: PageAction) => string;
}

export interface RenderedPage {
  status: number;
  body: string;
}

const hidden = (form: FormContext, action: PageAction): Html => html`
<input type="hidden" name="csrf" value="${form.csrf(action)}">
<input type="hidden" name="project_id" value="${form.project.id}">
<input type="hidden" name="login_code" value="${form.loginCode}">`;

const errorBox = (error: string | undefined, id: string): Html | undefined =>
  error === undefined ? undefined : html`<p class="error" id="${id}" role="alert">${error}</p>`;

const when = (ms: number, now: number): string => {
  const iso = new Date(ms).toISOString();
  const minutes = Math.round((now - ms) / 60_000);
  const ago = minutes <= 0 ? 'just now' : minutes === 1 ? '1 minute ago' : `${minutes} minutes ago`;
  return `${iso.slice(0, 10)} ${iso.slice(11, 19)} UTC (${ago})`;
};

/** Step 1 without a code in the link: type the one the terminal shows. */
export function enterCodeView(project: PageProject, error?: string, typed = ''): RenderedPage {
  return {
    status: error ? 400 : 200,
    body: page(
      `Log in the authlog CLI — ${project.name}`,
      html`<h1>Log in a command-line tool to ${project.name}</h1>
${errorBox(error, 'code-error')}
<form method="get" action="/cli">
<input type="hidden" name="project_id" value="${project.id}">
<label for="login_code">The code your terminal shows</label>
<input type="text" id="login_code" name="login_code" value="${typed}" required autocomplete="off" autocapitalize="characters" spellcheck="false" maxlength="20" placeholder="XXXX-XXXX"${error ? html` aria-invalid="true" aria-describedby="code-error"` : ''} autofocus>
<div class="actions"><button type="submit" class="primary">Continue</button></div>
</form>`,
    ),
  };
}

/** Step 2a: who is approving? An emailed code signs them in. */
export function signInView(form: FormContext, options: { error?: string; email?: string } = {}): RenderedPage {
  return {
    status: options.error ? 400 : 200,
    body: page(
      `Sign in — ${form.project.name}`,
      html`<h1>Sign in to ${form.project.name}</h1>
<p>A command-line tool asks to log in to ${form.project.name} with the code <strong class="nowrap">${form.loginCode}</strong>. Sign in to see what asked and to approve or deny it.</p>
${errorBox(options.error, 'email-error')}
<form method="post" action="/cli/email">${hidden(form, 'email')}
<label for="email">Your email address</label>
<input type="email" id="email" name="email" value="${options.email ?? ''}" required autocomplete="email" maxlength="254"${options.error ? html` aria-invalid="true" aria-describedby="email-error"` : ''} autofocus>
<div class="actions"><button type="submit" class="primary">Email me a sign-in code</button></div>
</form>`,
    ),
  };
}

/** Step 2b: the code from the email. */
export function otpView(form: FormContext, sent: { email: string; nonce: string }, error?: string): RenderedPage {
  return {
    status: error ? 400 : 200,
    body: page(
      `Enter your sign-in code — ${form.project.name}`,
      html`<h1>Check your email</h1>
<p>We sent a sign-in code to <strong>${sent.email}</strong>. It is in the subject line, 6 characters.</p>
${errorBox(error, 'otp-error')}
<form method="post" action="/cli/otp">${hidden(form, 'otp')}
<input type="hidden" name="email" value="${sent.email}">
<input type="hidden" name="nonce" value="${sent.nonce}">
<label for="otp">Sign-in code</label>
<input type="text" id="otp" name="otp" required autocomplete="one-time-code" autocapitalize="characters" spellcheck="false" maxlength="12"${error ? html` aria-invalid="true" aria-describedby="otp-error"` : ''} autofocus>
<div class="actions"><button type="submit" class="primary">Sign in</button></div>
</form>`,
    ),
  };
}

/**
 * Step 3a, what a link opens for a signed-in person: the code is not looked at yet. Only this
 * posted form (with its CSRF token) does, so a link or an <img> on another site spends no guess.
 */
export function reviewView(form: FormContext, signedInAs: string): RenderedPage {
  return {
    status: 200,
    body: page(
      `Review a CLI login — ${form.project.name}`,
      html`<h1>Log in a command-line tool to ${form.project.name}?</h1>
<p>A command-line tool asks to log in with the code <strong class="nowrap">${form.loginCode}</strong>. You are signed in as ${signedInAs}.</p>
<form method="post" action="/cli/review">${hidden(form, 'review')}
<div class="actions"><button type="submit" class="primary">Show what asked to log in</button></div>
</form>`,
    ),
  };
}

/** Step 3b: what asked, and the person's decision (RFC 8628 §5.4: show the request, confirm the code). */
/** An attempt as the page shows it: where it started from, opened. */
export type ShownAttempt = Omit<CliAuthView, 'ip' | 'userAgent'> & { ip: string | undefined; userAgent: string | undefined };

export function approveView(form: FormContext, attempt: ShownAttempt, signedInAs: string, now: number, error?: string): RenderedPage {
  return {
    status: error ? 400 : 200,
    body: page(
      `Approve a CLI login? — ${form.project.name}`,
      html`<h1>Log in a command-line tool to ${form.project.name}?</h1>
<p>Check that your terminal shows this code:</p>
<p class="code">${form.loginCode}</p>
<h2>What asked to log in</h2>
<dl>
<dt>Project</dt><dd>${form.project.name}</dd>
<dt>Started</dt><dd>${attempt.createdAtMillis === undefined ? 'unknown' : when(attempt.createdAtMillis, now)}</dd>
<dt>From address</dt><dd>${attempt.ip ?? 'unknown'}</dd>
<dt>User agent</dt><dd>${attempt.userAgent ?? 'unknown'}</dd>
<dt>Signed in as</dt><dd>${signedInAs}</dd>
</dl>
<p>Approve only if you started this login yourself, just now, and your terminal shows the same code. Whoever started it gets a session as you on ${form.project.name}. If someone sent you this link, deny it.</p>
${errorBox(error, 'confirm-error')}
<form method="post" action="/cli/approve">${hidden(form, 'approve')}
<label class="check"><input type="checkbox" name="confirm" value="yes" required${error ? html` aria-invalid="true" aria-describedby="confirm-error"` : ''}> <span>I started this login and my terminal shows ${form.loginCode}</span></label>
<div class="actions"><button type="submit" class="primary">Approve</button></div>
</form>
<form method="post" action="/cli/deny">${hidden(form, 'deny')}
<div class="actions"><button type="submit" class="danger">Deny</button></div>
</form>
<form method="post" action="/cli/sign-out" class="muted">${hidden(form, 'sign-out')}
<p>Not ${signedInAs}? <button type="submit" class="link">Sign out</button></p>
</form>`,
    ),
  };
}

export function outcomeView(project: PageProject, outcome: 'approved' | 'denied'): RenderedPage {
  const approved = outcome === 'approved';
  return {
    status: 200,
    body: page(
      approved ? `Login approved — ${project.name}` : `Login denied — ${project.name}`,
      approved
        ? html`<h1>Login approved</h1>
<p class="ok" role="status">The command-line tool is now logged in to ${project.name}. Return to your terminal; you can close this tab.</p>`
        : html`<h1>Login denied</h1>
<p class="ok" role="status">The command-line tool was refused and its code no longer works. If you did not start it, someone may have tried to get access to your account on ${project.name}.</p>`,
    ),
  };
}

/** Anything that ends the flow: a code that is not valid, a form that expired, a limit, an outage. */
export function problemView(status: number, title: string, message: string, retryHref?: string): RenderedPage {
  return {
    status,
    body: page(
      title,
      html`<h1>${title}</h1>
<p class="error" role="alert">${message}</p>
${retryHref === undefined ? undefined : html`<p><a href="${retryHref}">Start again</a></p>`}`,
    ),
  };
}
