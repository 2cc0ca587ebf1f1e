// Entry point of the `authlog` command: reads the configuration, dispatches to a subcommand, and
// turns a bad configuration or a misuse into one line on stderr (exit 1 and 2).
import { loadConfig, ConfigError } from '../config.ts';
import { serveCommand } from './serve-command.ts';
import { projectCommand } from './project-command.ts';
import { loginCommand } from './login-command.ts';
import { auditCommand } from './audit-command.ts';
import { eventsCommand } from './events-command.ts';
import { projectionsCommand } from './projections-command.ts';
import { userCommand } from './user-command.ts';
import { logCommand } from './log-command.ts';
import { secretCommand } from './secret-command.ts';
import type { CliIo } from './cli-io.ts';
import { USAGE, UsageError } from './usage.ts';

const out = (line: string) => process.stdout.write(line + '\n');
const io: CliIo = { out, err: (line) => process.stderr.write(line + '\n'), isTty: process.stderr.isTTY === true };

/**
 * Resolves on SIGINT or SIGTERM: how a following command (events tail --follow) ends cleanly.
 * Made on demand: a listener takes away the signals' default of ending the process.
 */
const untilStopped = (): Promise<void> =>
  new Promise<void>((resolve) => {
    process.once('SIGINT', () => resolve());
    process.once('SIGTERM', () => resolve());
  });

async function run(argv: string[]): Promise<void> {
  const [command, ...rest] = argv;
  switch (command) {
    case undefined:
    case 'help':
    case '--help':
    case '-h':
      out(USAGE);
      return;
    case 'serve':
      return serveCommand(loadConfig());
    case 'project':
      return projectCommand(loadConfig(), rest, out);
    case 'login':
      return loginCommand(rest, { out, err: io.err, env: process.env });
    case 'audit':
      return auditCommand(loadConfig(), rest, io);
    case 'events':
      return eventsCommand(loadConfig(), rest, io, untilStopped());
    case 'projections':
      return projectionsCommand(loadConfig(), rest, io);
    case 'user':
      return userCommand(loadConfig(), rest, io);
    case 'log':
      return logCommand(loadConfig(), rest, io);
    case 'secret':
      return secretCommand(loadConfig(), rest, io);
    default:
      throw new UsageError(`unknown command ${JSON.stringify(command)}; run \`authlog help\``);
  }
}

try {
  await run(process.argv.slice(2));
} catch (error) {
  if (error instanceof ConfigError) {
    process.stderr.write(`authlog: ${error.message}\n`);
    process.exit(1);
  }
  // parseArgs reports unknown or malformed options with these codes.
  const code = (error as { code?: string }).code;
  if (error instanceof UsageError || code?.startsWith('ERR_PARSE_ARGS')) {
    process.stderr.write(`authlog: ${(error as Error).message}\n`);
    process.exit(2);
  }
  const message = error instanceof Error ? error.message : String(error);
  process.stderr.write(`authlog: ${message}\n`);
  process.exit(1);
}
