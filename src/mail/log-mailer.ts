// The embedded default when SMTP_URL is not set: the mail is written to the log instead of
// sent, in full, so a developer can read the sign-in code or follow the link from the
// terminal. The banner makes it impossible to mistake for a delivery.
import type { Mailer, OutgoingMail } from './mailer.ts';

export const LOG_MAILER_BANNER = 'DEVELOPMENT ONLY: SMTP_URL is not set, this email was not sent';

// Subject, address and body can carry user input (an email address, a project name); control
// characters in them could forge log lines or drive the terminal (ANSI escapes).
const CONTROL = /[\u0000-\u0008\u000a-\u001f\u007f-\u009f]/g;
const clean = (line: string): string => line.replace(CONTROL, '\uFFFD');
const lines = (text: string): string[] => text.split(/\r\n|\r|\n/).map(clean);

export function createLogMailer(write: (line: string) => void): Mailer {
  return {
    async send(mail: OutgoingMail): Promise<void> {
      // Built first and written in one synchronous burst, so no other log line lands inside it.
      const out = [
        `----- ${LOG_MAILER_BANNER} -----`,
        `To: ${clean(mail.to)}`,
        `Subject: ${clean(mail.subject)}`,
        '',
        ...lines(mail.text),
      ];
      if (mail.html !== undefined) out.push('', '--- HTML version ---', ...lines(mail.html));
      out.push(`----- end of email (${LOG_MAILER_BANNER}) -----`);
      for (const line of out) write(line);
    },
    async close(): Promise<void> {},
  };
}
