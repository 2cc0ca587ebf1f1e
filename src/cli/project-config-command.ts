// `authlog project set-config`: what clients may do in a project (the settings of
// PATCH /api/v1/projects/current/config), appended to the project's stream like every change.
import { parseArgs } from 'node:util';
import type { Config } from '../config.ts';
import { systemClock } from '../clock.ts';
import { openLog } from '../backends.ts';
import { systemOrigin } from '../app-context.ts';
import { UsageError } from './usage.ts';
import { changeProject } from '../commands/project/change-project.ts';
import { foldStream } from '../commands/handler.ts';
import { projectDecider, type ProjectConfig } from '../commands/project/project-decider.ts';
import { streamName } from '../events/streams.ts';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

function flag(name: string, value: string | undefined): boolean | undefined {
  if (value === undefined) return undefined;
  if (value === 'true' || value === 'false') return value === 'true';
  throw new UsageError(`--${name} must be true or false`);
}

export async function setProjectConfig(config: Config, rest: string[], out: (line: string) => void): Promise<void> {
  const { values } = parseArgs({
    args: rest,
    options: { project: { type: 'string' }, 'require-publishable-client-key': { type: 'string' }, 'client-user-deletion': { type: 'string' } },
    strict: true,
    allowPositionals: false,
  });
  if (!values.project || !UUID.test(values.project)) throw new UsageError('project set-config needs --project PROJECT_ID (a UUID)');
  const requirePublishableClientKey = flag('require-publishable-client-key', values['require-publishable-client-key']);
  const clientUserDeletionEnabled = flag('client-user-deletion', values['client-user-deletion']);
  const projectId = values.project.toLowerCase();
  const settings: Partial<ProjectConfig> = {
    ...(requirePublishableClientKey !== undefined ? { requirePublishableClientKey } : {}),
    ...(clientUserDeletionEnabled !== undefined ? { clientUserDeletionEnabled } : {}),
  };
  const log = openLog(config);
  try {
    const result = await changeProject({ store: log.store, clock: systemClock }, { type: 'SetConfig', projectId, config: settings }, systemOrigin('cli'));
    const now = foldStream(projectDecider, await log.store.readStream(streamName('project', projectId))).config;
    out(
      `Project ${projectId}: publishable client key ${now.requirePublishableClientKey ? 'required' : 'optional'}, ` +
        `client user deletion ${now.clientUserDeletionEnabled ? 'enabled' : 'disabled'}${result.changed ? '' : ' (unchanged)'}.`,
    );
  } finally {
    await log.close();
  }
}
