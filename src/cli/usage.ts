// The help text of the `authlog` command: one place, printed by `authlog help` and on misuse.
export const USAGE = `authlog — an event-sourced authentication service speaking the Stack Auth API

Usage:
  authlog serve                          start the HTTP service (what \`npm start\` runs)
  authlog project create --name NAME [--trusted-domain URL]... [--json]
                                         create a project; prints its keys once
  authlog project add-admin --project PROJECT_ID --user USER_ID
  authlog project remove-admin --project PROJECT_ID --user USER_ID
                                         let a user of the project act as its admin with
                                         their access token (x-stack-admin-access-token)
  authlog project set-trusted-domains --project PROJECT_ID [--trusted-domain URL]...
                                         replace the domains sign-in links may point to
  authlog project set-rate-limit --project PROJECT_ID --name NAME (--limit N [--window-seconds S] | --default)
                                         override one of the project's rate limits
  authlog project set-config --project PROJECT_ID [--require-publishable-client-key true|false] [--client-user-deletion true|false]
                                         what clients may do (both false by default, as upstream)
  authlog project rotate-key --project PROJECT_ID --kind client|server|admin [--grace-seconds N] [--json]
                                         a new key; the old one works N more seconds (default 0)
  authlog project revoke-key --project PROJECT_ID --key-id KEY_ID
  authlog project list-keys --project PROJECT_ID [--json]
                                         end a key at once; the keys that work now
  authlog project rotate-signing-key --project PROJECT_ID
                                         sign access tokens with the next key (JWKS keeps the old)
  authlog project set-refresh-token-rotation --project PROJECT_ID --rotation cli-login|all|none
                                         which sessions' refresh tokens rotate (reuse ends them)
  authlog user erase --project PROJECT_ID --user USER_ID [--json]
                                         erase a person: delete the user and their data keys;
                                         their personal data reads [erased] everywhere
  authlog log seal-personal-data         seal the personal data of events written before sealing
                                         (SQLite: rewritten in place; EventStoreDB: counted only)
  authlog log prune [--json]             remove CLI attempts and codes long past expiry
                                         (SQLite: deleted, file vacuumed; EventStoreDB: $maxAge)
  authlog secret status [--json]         how many live keys, tokens, codes, reservations and data
                                         keys still depend on AUTHLOG_SECRET_PREVIOUS, and whether
                                         it can be removed
  authlog audit impersonations [--project P] [--user U] [--actor A] [--since T] [--until T] [--as-of T] [--json]
                                         every session created through /auth/sessions, from the log
  authlog audit verify [--from P] [--checkpoint FILE]... [--json]
                                         check the log's chains, signed checkpoints and records;
                                         names the first break; exit 0 intact, 1 broken
  authlog audit checkpoint [--export | --verify FILE [--keys FILE|URL] | --show-keys]
                                         write a signed checkpoint now; print the latest for keeping
                                         elsewhere; check an exported one; print the public keys
  authlog login --api URL --project ID --key PUBLISHABLE_KEY [--print] [--credentials PATH]
                                         log in from a terminal: shows a code to approve in a
                                         browser, then keeps the refresh token in a credentials
                                         file (mode 0600), or prints it with --print
  authlog help                           this text

Configuration comes from the environment (PORT, HOST, AUTHLOG_DATA_DIR, EVENTSTORE_URL,
REDIS_URL, AUTHLOG_SECRET, SMTP_URL, PUBLIC_URL, LOG_LEVEL); see the README.
The command works on the same data as a running server: start it from the same directory,
or with the same AUTHLOG_DATA_DIR / EVENTSTORE_URL and AUTHLOG_SECRET.`;

/** A mistake in how the command was called: printed as one line, exit code 2. */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}
