// A real SMTP server for tests (smtp-server on an ephemeral port of 127.0.0.1), so mail goes
// through the same wire protocol and encodings as in production. It decodes just enough MIME
// to read what nodemailer sends: folded headers, RFC 2047 encoded words, quoted-printable and
// base64 bodies, multipart/alternative.
import { EventEmitter } from 'node:events';
import type { AddressInfo } from 'node:net';
import { SMTPServer } from 'smtp-server';

export interface ReceivedMail {
  /** Envelope recipients (RCPT TO), what the server was actually asked to deliver to. */
  to: string[];
  /** Envelope sender (MAIL FROM). */
  from: string;
  /** Decoded Subject header. */
  subject: string;
  /** The text/plain body, decoded, line endings as \n. */
  text: string;
  /** The text/html body when there is one, decoded, line endings as \n. */
  html?: string;
  /** Top-level headers, names lower-cased, values unfolded (not decoded). */
  headers: Record<string, string[]>;
  /** The message exactly as received (CRLF line endings). */
  raw: string;
  /** The user the client logged in as, when it did. */
  authUser?: string;
}

export interface SmtpReceiver {
  /** smtp://[user:pass@]127.0.0.1:<port>, ready for createSmtpMailer. */
  url: string;
  messages: ReceivedMail[];
  waitForMail(predicate: (m: ReceivedMail) => boolean, timeoutMs?: number): Promise<ReceivedMail>;
  stop(): Promise<void>;
}

export interface SmtpReceiverOptions {
  /** Require a login with exactly these credentials (put into `url`). Default: no AUTH at all. */
  credentials?: { user: string; pass: string };
  /** Recipients answered with 550 at RCPT TO. */
  refuseRecipients?: string[];
}

export async function startSmtpReceiver(options: SmtpReceiverOptions = {}): Promise<SmtpReceiver> {
  const messages: ReceivedMail[] = [];
  const arrivals = new EventEmitter();
  const { credentials } = options;
  const refused = new Set((options.refuseRecipients ?? []).map((a) => a.toLowerCase()));

  const server = new SMTPServer({
    logger: false,
    secure: false,
    disabledCommands: credentials ? ['STARTTLS'] : ['STARTTLS', 'AUTH'],
    authOptional: !credentials,
    allowInsecureAuth: true,
    disableReverseLookup: true,
    // stop() should not wait 30 s for a client that never hangs up.
    closeTimeout: 200,
    onAuth(auth, _session, callback) {
      if (credentials && auth.username === credentials.user && auth.password === credentials.pass) {
        callback(null, { user: auth.username });
      } else {
        callback(Object.assign(new Error('Invalid username or password'), { responseCode: 535 }));
      }
    },
    onRcptTo(address, _session, callback) {
      if (refused.has(address.address.toLowerCase())) {
        callback(Object.assign(new Error('Mailbox unavailable'), { responseCode: 550 }));
      } else {
        callback();
      }
    },
    onData(stream, session, callback) {
      const chunks: Buffer[] = [];
      stream.on('data', (chunk: Buffer) => chunks.push(chunk));
      stream.on('error', (error: Error) => callback(error));
      stream.on('end', () => {
        const raw = Buffer.concat(chunks).toString('utf8');
        // SMTP data always ends with a line break, whether or not the text did: drop that one.
        const parsed = parseMessage(raw.replace(/\r\n$/, ''));
        const mail: ReceivedMail = {
          to: session.envelope.rcptTo.map((a) => a.address),
          from: session.envelope.mailFrom ? session.envelope.mailFrom.address : '',
          subject: decodeEncodedWords(parsed.headers.subject?.[0] ?? ''),
          text: parsed.text ?? '',
          headers: parsed.headers,
          raw,
        };
        if (parsed.html !== undefined) mail.html = parsed.html;
        if (typeof session.user === 'string') mail.authUser = session.user;
        messages.push(mail);
        arrivals.emit('mail', mail);
        callback();
      });
    },
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  // A client error (a test closing a connection mid-session) must not crash the run.
  server.on('error', () => {});
  const { port } = server.server.address() as AddressInfo;
  const auth = credentials ? `${encodeURIComponent(credentials.user)}:${encodeURIComponent(credentials.pass)}@` : '';

  return {
    url: `smtp://${auth}127.0.0.1:${port}`,
    messages,
    waitForMail(predicate, timeoutMs = 5_000) {
      const already = messages.find(predicate);
      if (already) return Promise.resolve(already);
      return new Promise<ReceivedMail>((resolve, reject) => {
        const onMail = (mail: ReceivedMail): void => {
          if (!predicate(mail)) return;
          clearTimeout(timer);
          arrivals.off('mail', onMail);
          resolve(mail);
        };
        const timer = setTimeout(() => {
          arrivals.off('mail', onMail);
          const seen = messages.map((m) => `${m.to.join(',')}: ${m.subject}`).join('; ') || 'none';
          reject(new Error(`no matching mail within ${timeoutMs} ms (received: ${seen})`));
        }, timeoutMs);
        arrivals.on('mail', onMail);
      });
    },
    stop() {
      return new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

interface ParsedPart {
  headers: Record<string, string[]>;
  text?: string;
  html?: string;
}

function parseMessage(raw: string): ParsedPart {
  const split = raw.indexOf('\r\n\r\n');
  const head = split === -1 ? raw : raw.slice(0, split);
  const body = split === -1 ? '' : raw.slice(split + 4);
  const headers: Record<string, string[]> = {};
  for (const line of head.replace(/\r\n(?=[ \t])/g, '').split('\r\n')) {
    const colon = line.indexOf(':');
    if (colon <= 0) continue;
    const name = line.slice(0, colon).trim().toLowerCase();
    (headers[name] ??= []).push(line.slice(colon + 1).trim());
  }

  const contentType = headers['content-type']?.[0] ?? 'text/plain';
  const mediaType = contentType.split(';')[0]!.trim().toLowerCase();
  if (mediaType.startsWith('multipart/')) {
    const boundary = /boundary="?([^";]+)"?/i.exec(contentType)?.[1];
    const result: ParsedPart = { headers };
    if (!boundary) return result;
    const sections = body.split(`--${boundary}`).slice(1);
    for (const section of sections) {
      if (section.startsWith('--')) break; // the closing delimiter
      // The CRLF before a delimiter belongs to the delimiter (RFC 2046), not to the part.
      const part = parseMessage(section.replace(/^\r\n/, '').replace(/\r\n$/, ''));
      result.text ??= part.text;
      result.html ??= part.html;
    }
    return result;
  }

  const encoding = (headers['content-transfer-encoding']?.[0] ?? '7bit').toLowerCase();
  const bytes =
    encoding === 'quoted-printable'
      ? decodeQuotedPrintable(body)
      : encoding === 'base64'
        ? Buffer.from(body.replace(/\s+/g, ''), 'base64')
        : Buffer.from(body, 'utf8');
  const decoded = bytes.toString('utf8').replace(/\r\n/g, '\n');
  if (mediaType === 'text/html') return { headers, html: decoded };
  return { headers, text: decoded };
}

function decodeQuotedPrintable(input: string): Buffer {
  const s = input.replace(/=\r?\n/g, ''); // soft line breaks
  const out: number[] = [];
  for (let i = 0; i < s.length; i++) {
    const ch = s[i]!;
    const hex = s.slice(i + 1, i + 3);
    if (ch === '=' && /^[0-9A-Fa-f]{2}$/.test(hex)) {
      out.push(parseInt(hex, 16));
      i += 2;
    } else {
      out.push(...Buffer.from(ch, 'utf8'));
    }
  }
  return Buffer.from(out);
}

/** RFC 2047: adjacent encoded words join without the whitespace between them, bytes first. */
function decodeEncodedWords(value: string): string {
  const joined = value.replace(/\?=\s+=\?/g, '?==?');
  return joined.replace(/(?:=\?[^?]+\?[QqBb]\?[^?]*\?=)+/g, (run) => {
    const bytes: Buffer[] = [];
    for (const [, , kind, text] of run.matchAll(/=\?([^?]+)\?([QqBb])\?([^?]*)\?=/g)) {
      if (kind === undefined || text === undefined) continue;
      bytes.push(kind.toUpperCase() === 'B' ? Buffer.from(text, 'base64') : decodeQuotedPrintable(text.replace(/_/g, ' ')));
    }
    return Buffer.concat(bytes).toString('utf8');
  });
}
