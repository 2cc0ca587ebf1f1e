// `authlog user erase`: erase a person as DELETE /api/v1/users/{id} does (delete, record, delete
// their data keys), from the command line, and say what was erased. It runs the service's own
// command path in this process (the log replayed into an in-process read model, or the shared
// Redis), listening on a loopback port only while it works, so nothing differs from the API's erasure.
import { parseArgs } from 'node:util';
import type { Config } from '../config.ts';
import { startService } from '../main.ts';
import { systemOrigin } from '../app-context.ts';
import { eraseUser } from '../flows/erase-user.ts';
import { KnownError } from '../errors.ts';
import { createLogger } from '../log.ts';
import { UsageError } from './usage.ts';
import type { CliIo } from './cli-io.ts';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export async function userCommand(config: Config, args: string[], io: CliIo): Promise<void> {
  const [sub, ...rest] = args;
  if (sub !== 'erase') throw new UsageError('try: authlog user erase --project PROJECT_ID --user USER_ID [--json]');
  const { values } = parseArgs({ args: rest, options: { project: { type: 'string' }, user: { type: 'string' }, json: { type: 'boolean', default: false } }, strict: true });
  if (!values.project || !UUID.test(values.project)) throw new UsageError('--project PROJECT_ID (a uuid) is required');
  if (!values.user || !UUID.test(values.user)) throw new UsageError('--user USER_ID (a uuid) is required');
  const service = await startService({ ...config, PORT: 0, HOST: '127.0.0.1', METRICS_PORT: undefined, METRICS_TOKEN: undefined }, { log: createLogger('silent') });
  try {
    const erasure = await eraseUser(service.app, values.project, values.user, systemOrigin('cli'));
    if (values.json) io.out(JSON.stringify({ user_id: erasure.userId, subjects: erasure.subjects, deleted_keys: erasure.deletedKeys }));
    else {
      io.out(`erased user ${erasure.userId}: ${erasure.deletedKeys.length} data key(s) deleted (${erasure.deletedKeys.join(', ') || 'none left'})`);
      io.out('their email, display name and sign-in addresses now read [erased] in the log, its backups and the read model; ids and times remain');
    }
  } catch (error) {
    if (error instanceof KnownError && error.code === 'USER_NOT_FOUND') throw new UsageError(`no user ${values.user} in project ${values.project}`);
    throw error;
  } finally {
    await service.close();
  }
}
