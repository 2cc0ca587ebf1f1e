// The user aggregate (userDecider) and the per-(project, email) reservation that keeps primary
// emails unique (emailReservationDecider). Pure: no store, no clock.
import { randomUUID } from 'node:crypto';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { DomainEvent, EventData } from '../../events/catalogue.ts';
import { userDecider } from './user-decider.ts';
import {
  emailReservationDecider,
  type EmailReservationCommand,
} from './email-reservation-decider.ts';
import { throwsKnown } from '../../../test/support/throws-known.ts';
import { deciderSpec } from '../../../test/support/decider-spec.ts';

const user = deciderSpec(userDecider);
const reservation = deciderSpec(emailReservationDecider);

const projectId = randomUUID();
const otherProjectId = randomUUID();

function userCreated(userId: string, primaryEmail: string | null = 'ada@example.com'): EventData<'UserCreated'> {
  return {
    userId,
    projectId,
    primaryEmail,
    primaryEmailVerified: false,
    displayName: 'Ada',
    signedUpAtMillis: 1_700_000_000_000,
    origin: 'api',
  };
}




// --- user --------------------------------------------------------------------------------------

test('EraseUser records PersonalDataErased for a deleted user only: a live one is deleted first, an unknown one is not found', () => {
  const userId = randomUUID();
  const created: DomainEvent = { type: 'UserCreated', data: userCreated(userId) };
  const deleted: DomainEvent = { type: 'UserDeleted', data: { userId, projectId } };
  const erase = { type: 'EraseUser', userId, projectId, subjects: [`user:${userId}`], nowMs: 1_700_000_100_000 } as const;
  user.given([created]).when({ ...erase, subjects: [...erase.subjects] }).thenThrows('USER_NOT_FOUND');
  user.given([]).when({ ...erase, subjects: [...erase.subjects] }).thenThrows('USER_NOT_FOUND');
  user.given([created, deleted]).when({ ...erase, projectId: otherProjectId, subjects: [...erase.subjects] }).thenThrows('USER_NOT_FOUND');
  user.given([created, deleted]).when({ ...erase, subjects: [...erase.subjects] }).then([
    { type: 'PersonalDataErased', data: { userId, projectId, subjects: [`user:${userId}`], erasedAtMillis: 1_700_000_100_000 } },
  ]);
});

test('CreateUser on an empty stream decides UserCreated and folds to an active user of that project', () => {
  const userId = randomUUID();
  const data = userCreated(userId);
  const events = user.given([]).when({ type: 'CreateUser', data }).events();
  assert.equal(events, [{ type: 'UserCreated', data }]);
  assert.equal(user.given(events).state, { status: 'active', projectId, primaryEmail: 'ada@example.com', primaryEmailDigest: undefined, isAnonymous: false, primaryEmailVerified: false });
});

test('a UserCreated marked isAnonymous folds to an anonymous user; without the field (older events) to a real one', () => {
  const anonymous: DomainEvent = { type: 'UserCreated', data: { ...userCreated(randomUUID()), primaryEmail: null, origin: 'anonymous-sign-up', isAnonymous: true } };
  assert.is(user.given([anonymous]).state.isAnonymous, true);
  assert.is(user.given([{ type: 'UserCreated', data: userCreated(randomUUID()) }]).state.isAnonymous, false);
});

test('CreateUser on a stream that already holds a user is refused', () => {
  const userId = randomUUID();
  const history: DomainEvent[] = [{ type: 'UserCreated', data: userCreated(userId) }];
  user.given(history).when({ type: 'CreateUser', data: userCreated(userId) }).thenFails(/exists already/);
});

test('DeleteUser of an active user decides UserDeleted and folds to deleted, keeping the email for release', () => {
  const userId = randomUUID();
  const history: DomainEvent[] = [{ type: 'UserCreated', data: userCreated(userId) }];
  const events = user.given(history).when({ type: 'DeleteUser', userId, projectId }).events();
  assert.equal(events, [{ type: 'UserDeleted', data: { userId, projectId } }]);
  const state = user.given([...history, ...events]).state;
  assert.is(state.status, 'deleted');
  assert.is(state.primaryEmail, 'ada@example.com');
});

test('UpdateUser decides UserUpdated with the fields given; a verified flag that does not change is left out; nothing given decides nothing', () => {
  const userId = randomUUID();
  const history: DomainEvent[] = [{ type: 'UserCreated', data: userCreated(userId) }];
  assert.equal(user.given(history).when({ type: 'UpdateUser', profile: { userId, projectId, displayName: 'Ada L.' } }).events(), [
    { type: 'UserUpdated', data: { userId, projectId, displayName: 'Ada L.' } },
  ]);
  assert.equal(user.given(history).when({ type: 'UpdateUser', profile: { userId, projectId, primaryEmailVerified: false } }).events(), [], 'already unverified');
  const verified = user.given(history).when({ type: 'UpdateUser', profile: { userId, projectId, primaryEmailVerified: true } }).events();
  assert.equal(verified, [{ type: 'UserUpdated', data: { userId, projectId, primaryEmailVerified: true } }]);
  assert.is(user.given([...history, ...verified]).state.primaryEmailVerified, true);
});

test('UpdateUser with an email change decides UserPrimaryEmailChanged first; verified without an email is refused; a deleted user is not found', () => {
  const userId = randomUUID();
  const history: DomainEvent[] = [{ type: 'UserCreated', data: userCreated(userId) }];
  const email = { userId, projectId, primaryEmail: 'new@example.com', primaryEmailDigest: 'digest-new', primaryEmailVerified: false };
  const events = user.given(history).when({ type: 'UpdateUser', profile: { userId, projectId, displayName: null }, email }).events();
  assert.equal(events.map((e) => e.type), ['UserPrimaryEmailChanged', 'UserUpdated']);
  const after = user.given([...history, ...events]).state;
  assert.equal([after.primaryEmail, after.primaryEmailDigest, after.primaryEmailVerified], ['new@example.com', 'digest-new', false]);
  const removed = { userId, projectId, primaryEmail: null, primaryEmailVerified: false };
  throwsKnown(() => user.given(history).when({ type: 'UpdateUser', profile: { userId, projectId, primaryEmailVerified: true }, email: removed }).events(), 'SCHEMA_ERROR');
  const deleted: DomainEvent[] = [...history, { type: 'UserDeleted', data: { userId, projectId } }];
  throwsKnown(() => user.given(deleted).when({ type: 'UpdateUser', profile: { userId, projectId, displayName: 'x' } }).events(), 'USER_NOT_FOUND');
  throwsKnown(() => user.given(history).when({ type: 'UpdateUser', profile: { userId, projectId: otherProjectId, displayName: 'x' } }).events(), 'USER_NOT_FOUND');
});

test('deleting a user twice is refused with USER_NOT_FOUND', () => {
  const userId = randomUUID();
  const history: DomainEvent[] = [
    { type: 'UserCreated', data: userCreated(userId) },
    { type: 'UserDeleted', data: { userId, projectId } },
  ];
  user.given(history).when({ type: 'DeleteUser', userId, projectId }).thenThrows('USER_NOT_FOUND');
});

test('deleting a user that never existed is refused with USER_NOT_FOUND', () => {
  const userId = randomUUID();
  user.given([]).when({ type: 'DeleteUser', userId, projectId }).thenThrows('USER_NOT_FOUND');
});

test('deleting a user through another project is refused with USER_NOT_FOUND', () => {
  const userId = randomUUID();
  const history: DomainEvent[] = [{ type: 'UserCreated', data: userCreated(userId) }];
  user.given(history).when({ type: 'DeleteUser', userId, projectId: otherProjectId }).thenThrows('USER_NOT_FOUND');
  // ...and the user is still deletable in its own project.
  assert.is(user.given(history).when({ type: 'DeleteUser', userId, projectId }).events().length, 1);
});

test('user evolve ignores events of other aggregates', () => {
  const state = user.given([{ type: 'UserCreated', data: userCreated(randomUUID()) }]).state;
  const unrelated: DomainEvent = { type: 'UserEmailReleased', data: { projectId, userId: randomUUID() } };
  assert.is(userDecider.evolve(state, unrelated), state);
});

// --- email reservation -------------------------------------------------------------------------

/** `holder` is the holder the caller checked; `isLive` what it found about that holder. */
const reserve = (userId: string, isLive: boolean | undefined, holder?: string): EmailReservationCommand => ({
  type: 'Reserve',
  projectId,
  userId,
  checkedHolder: holder === undefined ? undefined : { userId: holder, isLive },
});
const reserved = (userId: string): DomainEvent => ({ type: 'UserEmailReserved', data: { projectId, userId } });
const released = (userId: string): DomainEvent => ({ type: 'UserEmailReleased', data: { projectId, userId } });

test('reserving a free email decides UserEmailReserved and makes the user its holder', () => {
  const userId = randomUUID();
  const events = reservation.given([]).when(reserve(userId, undefined)).events();
  assert.equal(events, [reserved(userId)]);
  assert.is(reservation.given(events).state.holder, userId);
});

test('reserving an email released earlier is allowed', () => {
  const first = randomUUID();
  const second = randomUUID();
  reservation.given([reserved(first), released(first)]).when(reserve(second, undefined)).then([reserved(second)]);
});

test('reserving an email held by a live user is refused with USER_EMAIL_ALREADY_EXISTS', () => {
  const holder = randomUUID();
  reservation.given([reserved(holder)]).when(reserve(randomUUID(), true, holder)).thenThrows('USER_EMAIL_ALREADY_EXISTS');
  reservation.given([reserved(holder)]).when(reserve(randomUUID(), undefined)).thenThrows('USER_EMAIL_ALREADY_EXISTS');
});

test('reserving an email whose holder may still be being created (liveness unknown) is refused', () => {
  const holder = randomUUID();
  reservation.given([reserved(holder)]).when(reserve(randomUUID(), undefined, holder)).thenThrows('USER_EMAIL_ALREADY_EXISTS');
});

test('a holder found dead is not taken over once another user holds the email (a retry after a race)', () => {
  const dead = randomUUID();
  const winner = randomUUID();
  // The caller checked `dead`; meanwhile `winner` took the email over, so the check is stale.
  reservation.given([reserved(dead), reserved(winner)]).when(reserve(randomUUID(), false, dead)).thenThrows('USER_EMAIL_ALREADY_EXISTS');
});

test('reserving an email held by a dead user takes the reservation over', () => {
  const dead = randomUUID();
  const newcomer = randomUUID();
  const events = reservation.given([reserved(dead)]).when(reserve(newcomer, false, dead)).events();
  assert.equal(events, [reserved(newcomer)]);
  assert.is(reservation.given([reserved(dead), ...events]).state.holder, newcomer);
});

test('the holder reserving its own email again decides nothing, whatever the liveness says', () => {
  const userId = randomUUID();
  reservation.given([reserved(userId)]).when(reserve(userId, true, userId)).thenNothing();
  reservation.given([reserved(userId)]).when(reserve(userId, false, userId)).thenNothing();
  reservation.given([reserved(userId)]).when(reserve(userId, undefined)).thenNothing();
});

test('the holder releasing its email decides UserEmailReleased and frees it', () => {
  const userId = randomUUID();
  const events = reservation.given([reserved(userId)]).when({ type: 'Release', projectId, userId }).events();
  assert.equal(events, [released(userId)]);
  assert.is(reservation.given([reserved(userId), ...events]).state.holder, undefined);
});

test('a non-holder releasing the email decides nothing and cannot free it', () => {
  const holder = randomUUID();
  const stranger = randomUUID();
  reservation.given([reserved(holder)]).when({ type: 'Release', projectId, userId: stranger }).thenNothing();
  reservation.given([]).when({ type: 'Release', projectId, userId: stranger }).thenNothing();
  // Even a stray UserEmailReleased of someone else (a stale release after a takeover) keeps the holder.
  assert.is(reservation.given([reserved(holder), released(stranger)]).state.holder, holder);
});

test('a release by the previous holder after a takeover leaves the new holder in place', () => {
  const dead = randomUUID();
  const newcomer = randomUUID();
  const history = [reserved(dead), reserved(newcomer)];
  reservation.given(history).when({ type: 'Release', projectId, userId: dead }).thenNothing();
  assert.is(reservation.given([...history, released(dead)]).state.holder, newcomer);
});

test.run();
