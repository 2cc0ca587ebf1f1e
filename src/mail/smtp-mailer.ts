// The SMTP adapter of the mail port (nodemailer). `send` resolves only once the server has
// answered 250 to the message, so when the service answers 2xx the mail is in the SMTP
// server's hands; every failure to get there is a MailUnavailableError.
import nodemailer from 'nodemailer';
import { MailUnavailableError, type Mailer, type OutgoingMail } from './mailer.ts';

export interface SmtpMailerOptions {
  /** smtp://user:pass@host:port (STARTTLS when offered) or smtps://… (TLS from the start). */
  url: string;
  /** The From header and envelope sender, e.g. `"Example" <no-reply@example.com>`. */
  from: string;
  /** The most one `send` may take, connecting included (default 10000). */
  timeoutMs?: number;
}

const DEFAULT_TIMEOUT_MS = 10_000;
const MAX_REASON_LENGTH = 300;
// One plain addr-spec: no display name, no list, no group, no line break. A recipient reaches
// this port from user input (the sign-in email), and a "to" of "victim@x, attacker@y" must not
// become a second recipient of the victim's code, whatever validation happened upstream.
const SINGLE_ADDRESS = /^[^\s@,;:<>()[\]"\\]+@[^\s@,;:<>()[\]"\\]+$/;

interface SmtpTarget {
  /** host:port, safe to put in messages (never the user or password). */
  display: string;
  /** Every form in which a credential could show up in a server reply or library message. */
  secrets: string[];
}

function parseSmtpUrl(raw: string): SmtpTarget {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    // The URL itself is never echoed: it usually holds the password.
    throw new Error('SMTP_URL is not a valid URL (expected smtp://user:pass@host:port or smtps://…)');
  }
  if (url.protocol !== 'smtp:' && url.protocol !== 'smtps:') {
    throw new Error(`SMTP_URL must start with smtp:// or smtps:// (got ${url.protocol}//)`);
  }
  if (!url.hostname) throw new Error('SMTP_URL has no host');
  const port = url.port || (url.protocol === 'smtps:' ? '465' : '587');
  const user = safeDecode(url.username);
  const pass = safeDecode(url.password);
  const secrets = new Set<string>();
  for (const value of [user, pass, url.username, url.password]) {
    if (value.length >= 3) {
      secrets.add(value);
      // AUTH LOGIN sends each half in base64, AUTH PLAIN the pair.
      secrets.add(Buffer.from(value, 'utf8').toString('base64'));
    }
  }
  if (user || pass) secrets.add(Buffer.from(`\0${user}\0${pass}`, 'utf8').toString('base64'));
  return { display: `${url.hostname}:${port}`, secrets: [...secrets].sort((a, b) => b.length - a.length) };
}

function safeDecode(value: string): string {
  try {
    return decodeURIComponent(value);
  } catch {
    return value;
  }
}

function redact(text: string, secrets: readonly string[]): string {
  let out = text;
  for (const secret of secrets) out = out.split(secret).join('[redacted]');
  out = out.replace(/[\r\n]+/g, ' ').trim();
  return out.length > MAX_REASON_LENGTH ? `${out.slice(0, MAX_REASON_LENGTH)}…` : out;
}

interface TransportError {
  message?: unknown;
  code?: unknown;
  responseCode?: unknown;
  permanent?: unknown;
}

export function createSmtpMailer(options: SmtpMailerOptions): Mailer {
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  if (!Number.isFinite(timeoutMs) || timeoutMs <= 0) throw new Error('SMTP timeout must be a positive number of milliseconds');
  const target = parseSmtpUrl(options.url);

  // Every wait nodemailer knows is bounded by timeoutMs, and the abort below bounds their sum:
  // a dead or silent server costs one timeoutMs, not the library's minutes-long defaults.
  // Options in the URL's query (?requireTLS=true, ?tls.servername=…) are applied over these.
  const transport = nodemailer.createTransport(
    {
      url: options.url,
      connectionTimeout: timeoutMs,
      greetingTimeout: timeoutMs,
      socketTimeout: timeoutMs,
      dnsTimeout: timeoutMs,
      // After the 250 the answer is known; waiting for the server to hang up delays nothing we need.
      socketCloseTimeout: Math.min(timeoutMs, 1_000),
      logger: false,
      debug: false,
      // The messages are plain strings; no content of a message may make the mailer read a file or fetch a URL.
      disableFileAccess: true,
      disableUrlAccess: true,
    },
    { from: options.from },
  );
  let closed = false;

  const unavailable = (reason: string, details: ConstructorParameters<typeof MailUnavailableError>[1] = {}): MailUnavailableError =>
    new MailUnavailableError(`Mail could not be handed to SMTP at ${target.display}: ${reason}`, details);

  const translate = (error: unknown, timedOut: boolean): MailUnavailableError => {
    if (timedOut) return unavailable(`no answer within ${timeoutMs} ms`, { code: 'ETIMEDOUT' });
    const e: TransportError = typeof error === 'object' && error !== null ? error : {};
    const code = typeof e.code === 'string' ? e.code : undefined;
    const responseCode = typeof e.responseCode === 'number' ? e.responseCode : undefined;
    const message = typeof e.message === 'string' && e.message ? e.message : String(error);
    return unavailable(redact(message, target.secrets), { code, responseCode, permanent: e.permanent === true });
  };

  return {
    async send(mail: OutgoingMail): Promise<void> {
      if (closed) throw unavailable('the mailer is closed');
      if (!SINGLE_ADDRESS.test(mail.to)) {
        // A bug in the caller, not an SMTP outage: surfacing it as "mail unavailable" would hide it.
        throw new TypeError('OutgoingMail.to must be a single plain email address');
      }
      const controller = new AbortController();
      let timedOut = false;
      const deadline = setTimeout(() => {
        timedOut = true;
        controller.abort();
      }, timeoutMs);
      try {
        const info = await transport.sendMail({
          to: mail.to,
          // The envelope is stated, not derived from headers, so exactly this one address receives it.
          envelope: { from: options.from, to: [mail.to] },
          subject: mail.subject,
          text: mail.text,
          ...(mail.html !== undefined ? { html: mail.html } : {}),
          signal: controller.signal,
        });
        if (info.accepted.length === 0 || info.rejected.length > 0) {
          throw unavailable('the server did not accept the recipient', { code: 'EENVELOPE', permanent: true });
        }
      } catch (error) {
        if (error instanceof MailUnavailableError) throw error;
        throw translate(error, timedOut);
      } finally {
        clearTimeout(deadline);
      }
    },

    async close(): Promise<void> {
      closed = true;
      transport.close();
    },
  };
}
