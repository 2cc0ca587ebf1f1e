// A login code is short (8 characters a person types), so it must be unique among the project's
// live attempts: each code digest has a reservation stream, taken by an attempt until it
// expires. It is also how a completion finds its attempt, on the write side.
import type { Decider } from '../handler.ts';
import type { EventOf } from '../../events/catalogue.ts';

export interface LoginCodeState {
  cliAuthId: string | undefined;
  expiresAtMillis: number;
}

export type LoginCodeCommand = { type: 'ReserveLoginCode'; projectId: string; cliAuthId: string; expiresAtMillis: number; nowMs: number };

/** The drawn code is held by a live attempt: draw another. */
export class LoginCodeTakenError extends Error {
  override readonly name = 'LoginCodeTakenError';
}

export const loginCodeDecider: Decider<LoginCodeState, LoginCodeCommand, EventOf<'CliLoginCodeReserved'>> = {
  initialState: () => ({ cliAuthId: undefined, expiresAtMillis: 0 }),

  evolve(state, event) {
    return event.type === 'CliLoginCodeReserved' ? { cliAuthId: event.data.cliAuthId, expiresAtMillis: event.data.expiresAtMillis } : state;
  },

  decide(command, state) {
    if (state.cliAuthId === command.cliAuthId) return [];
    if (state.cliAuthId !== undefined && command.nowMs < state.expiresAtMillis) throw new LoginCodeTakenError();
    return [{ type: 'CliLoginCodeReserved', data: { projectId: command.projectId, cliAuthId: command.cliAuthId, expiresAtMillis: command.expiresAtMillis } }];
  },
};
