// The mail port. Callers hand over a finished message; the adapter decides how it travels
// (SMTP in production, the log in the embedded development default).
import { BackendUnavailableError } from '../backend-unavailable.ts';

export interface OutgoingMail {
  to: string;
  subject: string;
  text: string;
  html?: string;
}

export interface Mailer {
  /** Resolves once the message is accepted for delivery (for SMTP: the server's 250 to DATA). */
  send(mail: OutgoingMail): Promise<void>;
  close(): Promise<void>;
}

/**
 * The mail could not be handed to SMTP: unreachable, timed out, refused the login, the sender
 * or the recipient. The message names what failed and never carries credentials; the original
 * error is deliberately not attached as `cause`, because SMTP libraries put commands and
 * server replies on their errors and a logger printing the cause chain could expose them.
 */
export class MailUnavailableError extends BackendUnavailableError {
  override readonly name = 'MailUnavailableError';
  /** The transport's error code (ECONNECTION, ETIMEDOUT, EAUTH, EENVELOPE, …), when it gave one. */
  readonly code: string | undefined;
  /** The SMTP reply code, when the server answered with an error. */
  readonly responseCode: number | undefined;
  /**
   * true when the server refused this message for good (a 5xx reply): retrying it as is would
   * fail again, e.g. an address the server will not deliver to.
   */
  readonly permanent: boolean;

  constructor(message: string, details: { code?: string; responseCode?: number; permanent?: boolean } = {}) {
    super('mail', message);
    this.code = details.code;
    this.responseCode = details.responseCode;
    this.permanent = details.permanent ?? false;
  }
}
