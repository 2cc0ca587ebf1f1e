// Structured logs: pino, one JSON object per line (`{"level":"info","time":"<ISO>","msg":…,…}`).
// Callers pass ids and digests, never secrets; `redact` is a second line of defence for fields
// whose names say they hold one. The interface is this small one (msg first, then fields) so that
// the rest of the code does not depend on pino.
import pino from 'pino';

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';

export interface Logger {
  debug(msg: string, fields?: Record<string, unknown>): void;
  info(msg: string, fields?: Record<string, unknown>): void;
  warn(msg: string, fields?: Record<string, unknown>): void;
  error(msg: string, fields?: Record<string, unknown>): void;
  /** Writes a line exactly as given (the development mailer's output). */
  raw(line: string): void;
}

const SECRET_FIELD = /(key|token|code|secret|password|otp|authorization|cookie)$/i;

/** Fields named like a secret are replaced whatever their type: a nested object could hold one too. */
export function redact(fields: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(fields)) {
    out[k] = SECRET_FIELD.test(k) && v !== undefined && v !== null && typeof v !== 'boolean' && typeof v !== 'number' ? '[redacted]' : typeof v === 'bigint' ? String(v) : v;
  }
  return out;
}

/**
 * `write` receives each line without its newline; by default lines go to stdout synchronously,
 * so that nothing logged before a `process.exit` (the end of a shutdown) is lost.
 */
export function createLogger(level: LogLevel | 'silent', write?: (line: string) => void): Logger {
  const destination = write
    ? { write: (chunk: string) => write(chunk.endsWith('\n') ? chunk.slice(0, -1) : chunk) }
    : pino.destination({ dest: 1, sync: true });
  const logger = pino(
    {
      level,
      base: undefined,
      messageKey: 'msg',
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: {
        level: (label) => ({ level: label }),
        log: (object) => redact(object),
      },
    },
    destination,
  );
  const emit = (lvl: LogLevel) => (msg: string, fields?: Record<string, unknown>) => {
    if (fields) logger[lvl](fields, msg);
    else logger[lvl](msg);
  };
  return {
    debug: emit('debug'),
    info: emit('info'),
    warn: emit('warn'),
    error: emit('error'),
    raw: (line) => {
      if (level !== 'silent') destination.write(line + '\n');
    },
  };
}
