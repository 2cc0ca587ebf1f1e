// The assertion every decider test makes: this decision is refused with that catalogued code.
import * as assert from 'uvu/assert';
import { KnownError, type ErrorCode } from '../../src/errors.ts';

/** Runs `fn`, asserts it throws a KnownError with `code`, and returns that error. */
export function throwsKnown(fn: () => unknown, code: ErrorCode): KnownError {
  try {
    fn();
  } catch (error) {
    assert.instance(error, KnownError);
    assert.is((error as KnownError).code, code);
    return error as KnownError;
  }
  return assert.unreachable(`expected KnownError ${code}`) as never;
}
