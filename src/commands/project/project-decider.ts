// The project aggregate: created once with its three keys (as digests), trusted domains, admins.
import type { Decider } from '../handler.ts';
import type { EventData, EventOf } from '../../events/catalogue.ts';
import { knownError } from '../../errors.ts';
import type { RateLimitOverrides } from '../../rate-limit-catalogue.ts';

const sortedEntries = (limits: RateLimitOverrides) => Object.entries(limits).sort(([a], [b]) => a.localeCompare(b));

export interface ProjectState {
  exists: boolean;
  name: string;
  trustedDomains: string[];
  admins: Set<string>;
  rateLimits: RateLimitOverrides;
}

export type ProjectCommand =
  | { type: 'CreateProject'; data: EventData<'ProjectCreated'> }
  | { type: 'SetTrustedDomains'; projectId: string; trustedDomains: string[] }
  | { type: 'SetRateLimits'; projectId: string; rateLimits: RateLimitOverrides }
  | { type: 'AddAdmin'; projectId: string; userId: string }
  | { type: 'RemoveAdmin'; projectId: string; userId: string };

type ProjectEvent = EventOf<'ProjectCreated' | 'ProjectTrustedDomainsChanged' | 'ProjectRateLimitsChanged' | 'ProjectAdminAdded' | 'ProjectAdminRemoved'>;

export const projectDecider: Decider<ProjectState, ProjectCommand, ProjectEvent> = {
  initialState: () => ({ exists: false, name: '', trustedDomains: [], admins: new Set(), rateLimits: {} }),

  evolve(state, event) {
    switch (event.type) {
      case 'ProjectCreated':
        return { exists: true, name: event.data.name, trustedDomains: event.data.trustedDomains, admins: new Set(), rateLimits: {} };
      case 'ProjectTrustedDomainsChanged':
        return { ...state, trustedDomains: event.data.trustedDomains };
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
    }
  },
};
