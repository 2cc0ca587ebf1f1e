// The decider tests' one vocabulary (Emmett's DeciderSpecification): given these events, when
// this command, then these events / nothing / this refusal. The history is folded as the handler
// folds a stream, so a test states what happened, not how a state is built. Here beside
// throws-known.ts, not in src/, so that the build never carries uvu.
import * as assert from 'uvu/assert';
import type { DomainEvent } from '../../src/events/catalogue.ts';
import { KnownError, type ErrorCode } from '../../src/errors.ts';
import { throwsKnown } from './throws-known.ts';
import type { Decider } from '../../src/commands/handler.ts';

export interface Given<State, Command> {
  /** The state the history folds to. */
  readonly state: State;
  when(command: Command): When;
}

export interface When {
  /** What the decider decided (for assertions beyond equality). */
  events(): DomainEvent[];
  then(expected: readonly DomainEvent[]): void;
  /** The decision changes nothing: no event. */
  thenNothing(): void;
  /** Refused with this catalogued code. */
  thenThrows(code: ErrorCode): void;
  /** A bug, not a refusal: a plain Error whose message matches (never a KnownError). */
  thenFails(message: RegExp): void;
}

export interface DeciderSpec<State, Command> {
  given(history: readonly DomainEvent[]): Given<State, Command>;
}

export function deciderSpec<State, Command>(decider: Decider<State, Command>): DeciderSpec<State, Command> {
  return {
    given(history) {
      const fold = (): State => history.reduce(decider.evolve, decider.initialState());
      return {
        get state() {
          return fold();
        },
        when(command) {
          const decide = (): DomainEvent[] => decider.decide(command, fold());
          return {
            events: decide,
            then: (expected) => assert.equal(decide(), expected),
            thenNothing: () => assert.equal(decide(), []),
            thenThrows: (code) => void throwsKnown(decide, code),
            thenFails(message) {
              let thrown: unknown;
              try {
                decide();
              } catch (error) {
                thrown = error;
              }
              assert.instance(thrown, Error);
              assert.not.instance(thrown, KnownError);
              assert.match((thrown as Error).message, message);
            },
          };
        },
      };
    },
  };
}
