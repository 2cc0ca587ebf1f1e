// The project aggregate: created once with its three keys (as digests), trusted domains, admins;
// its keys rotate and revoke (project-keys.ts), its signing key rotates (signing-key-schedule.ts).
import type { Decider } from '../handler.ts';
import type { EventData, EventOf } from '../../events/catalogue.ts';
import { knownError } from '../../errors.ts';
import type { RateLimitOverrides } from '../../rate-limit-catalogue.ts';
import type { RefreshTokenRotationMode } from '../../events/project-events.ts';
import { decideKeyCommand, keysAfterCreated, keysAfterRevoked, keysAfterRotated, type KeyCommand, type ProjectKey } from './project-keys.ts';
import { MIN_SIGNING_KEY_ROTATION_INTERVAL_MS, PREVIOUS_SIGNING_KEY_MS } from './signing-key-schedule.ts';

const sortedEntries = (limits: RateLimitOverrides) => Object.entries(limits).sort(([a], [b]) => a.localeCompare(b));

export interface ProjectState {
  exists: boolean;
  name: string;
  trustedDomains: string[];
  admins: Set<string>;
  rateLimits: RateLimitOverrides;
  keys: ProjectKey[];
  signingKeyGeneration: number;
  signingKeyRotatedAtMillis: number | undefined;
  refreshTokenRotation: RefreshTokenRotationMode;
  config: ProjectConfig;
}

/** What clients may do; the defaults are upstream's. */
export interface ProjectConfig {
  requirePublishableClientKey: boolean;
  clientUserDeletionEnabled: boolean;
}
export const DEFAULT_PROJECT_CONFIG: ProjectConfig = { requirePublishableClientKey: false, clientUserDeletionEnabled: false };

export type ProjectCommand =
  | { type: 'CreateProject'; data: EventData<'ProjectCreated'> }
  | { type: 'SetTrustedDomains'; projectId: string; trustedDomains: string[] }
  | { type: 'SetRateLimits'; projectId: string; rateLimits: RateLimitOverrides }
  | { type: 'AddAdmin'; projectId: string; userId: string }
  | { type: 'RemoveAdmin'; projectId: string; userId: string }
  | KeyCommand
  | { type: 'RotateSigningKey'; projectId: string; nowMs: number }
  | { type: 'SetRefreshTokenRotation'; projectId: string; rotation: RefreshTokenRotationMode }
  | { type: 'SetConfig'; projectId: string; config: Partial<ProjectConfig> };

type ProjectEvent = EventOf<
  | 'ProjectCreated'
  | 'ProjectTrustedDomainsChanged'
  | 'ProjectRateLimitsChanged'
  | 'ProjectAdminAdded'
  | 'ProjectAdminRemoved'
  | 'ProjectKeyRotated'
  | 'ProjectKeyRevoked'
  | 'ProjectSigningKeyRotated'
  | 'ProjectRefreshTokenRotationChanged'
  | 'ProjectConfigChanged'
>;

/** Until a project chooses: rotate the CLI's refresh tokens (a public client's, RFC 9700 §4.14.2), not the others (as upstream). */
export const DEFAULT_REFRESH_TOKEN_ROTATION: RefreshTokenRotationMode = 'cli-login';

export const projectDecider: Decider<ProjectState, ProjectCommand, ProjectEvent> = {
  initialState: () => ({
    exists: false,
    name: '',
    trustedDomains: [],
    admins: new Set(),
    rateLimits: {},
    keys: [],
    signingKeyGeneration: 0,
    signingKeyRotatedAtMillis: undefined,
    refreshTokenRotation: DEFAULT_REFRESH_TOKEN_ROTATION,
    config: DEFAULT_PROJECT_CONFIG,
  }),

  evolve(state, event) {
    switch (event.type) {
      case 'ProjectCreated':
        return { ...projectDecider.initialState(), exists: true, name: event.data.name, trustedDomains: event.data.trustedDomains, keys: keysAfterCreated(event.data.keys) };
      case 'ProjectKeyRotated':
        return { ...state, keys: keysAfterRotated(state.keys, event.data) };
      case 'ProjectKeyRevoked':
        return { ...state, keys: keysAfterRevoked(state.keys, event.data) };
      case 'ProjectSigningKeyRotated':
        return { ...state, signingKeyGeneration: event.data.generation, signingKeyRotatedAtMillis: event.data.rotatedAtMillis };
      case 'ProjectRefreshTokenRotationChanged':
        return { ...state, refreshTokenRotation: event.data.rotation };
      case 'ProjectTrustedDomainsChanged':
        return { ...state, trustedDomains: event.data.trustedDomains };
      case 'ProjectConfigChanged': {
        const { projectId: _projectId, ...changed } = event.data;
        return { ...state, config: { ...state.config, ...changed } };
      }
      case 'ProjectRateLimitsChanged':
        return { ...state, rateLimits: event.data.rateLimits };
      case 'ProjectAdminAdded':
        return { ...state, admins: new Set(state.admins).add(event.data.userId) };
      case 'ProjectAdminRemoved': {
        const admins = new Set(state.admins);
        admins.delete(event.data.userId);
        return { ...state, admins };
      }
      default:
        return state;
    }
  },

  decide(command, state) {
    if (command.type === 'CreateProject') {
      if (state.exists) throw new Error(`project ${command.data.projectId} exists already`);
      return [{ type: 'ProjectCreated', data: command.data }];
    }
    if (!state.exists) throw knownError('CURRENT_PROJECT_NOT_FOUND', undefined, { project_id: command.projectId });
    switch (command.type) {
      case 'SetTrustedDomains': {
        const same =
          command.trustedDomains.length === state.trustedDomains.length &&
          command.trustedDomains.every((d, i) => d === state.trustedDomains[i]);
        return same ? [] : [{ type: 'ProjectTrustedDomainsChanged', data: { projectId: command.projectId, trustedDomains: command.trustedDomains } }];
      }
      case 'SetRateLimits':
        return JSON.stringify(sortedEntries(command.rateLimits)) === JSON.stringify(sortedEntries(state.rateLimits))
          ? []
          : [{ type: 'ProjectRateLimitsChanged', data: { projectId: command.projectId, rateLimits: command.rateLimits } }];
      case 'AddAdmin':
        return state.admins.has(command.userId)
          ? []
          : [{ type: 'ProjectAdminAdded', data: { projectId: command.projectId, userId: command.userId } }];
      case 'RemoveAdmin':
        return state.admins.has(command.userId)
          ? [{ type: 'ProjectAdminRemoved', data: { projectId: command.projectId, userId: command.userId } }]
          : [];
      case 'RotateKey':
      case 'RevokeKey':
        return decideKeyCommand(state.keys, command);
      case 'RotateSigningKey': {
        const last = state.signingKeyRotatedAtMillis;
        if (last !== undefined && command.nowMs - last < MIN_SIGNING_KEY_ROTATION_INTERVAL_MS) {
          throw knownError('SIGNING_KEY_ROTATED_RECENTLY', undefined, { retry_after_millis: last + MIN_SIGNING_KEY_ROTATION_INTERVAL_MS - command.nowMs });
        }
        return [
          {
            type: 'ProjectSigningKeyRotated',
            data: {
              projectId: command.projectId,
              generation: state.signingKeyGeneration + 1,
              rotatedAtMillis: command.nowMs,
              previousVerifiesUntilMillis: command.nowMs + PREVIOUS_SIGNING_KEY_MS,
            },
          },
        ];
      }
      case 'SetRefreshTokenRotation':
        return command.rotation === state.refreshTokenRotation
          ? []
          : [{ type: 'ProjectRefreshTokenRotationChanged', data: { projectId: command.projectId, rotation: command.rotation } }];
      case 'SetConfig': {
        const changed = Object.fromEntries(
          (Object.keys(command.config) as (keyof ProjectConfig)[])
            .filter((name) => command.config[name] !== undefined && command.config[name] !== state.config[name])
            .map((name) => [name, command.config[name]]),
        ) as Partial<ProjectConfig>;
        return Object.keys(changed).length === 0 ? [] : [{ type: 'ProjectConfigChanged', data: { projectId: command.projectId, ...changed } }];
      }
    }
  },
};
