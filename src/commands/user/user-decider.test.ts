// The user aggregate (userDecider) and the per-(project, email) reservation that keeps primary
// emails unique (emailReservationDecider). Pure: no store, no clock.
import { throwsKnown } from '../../../test/support/throws-known.ts';
import { randomUUID } from 'node:crypto';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { DomainEvent, EventData } from '../../events/catalogue.ts';
import { userDecider, type UserCommand, type UserState } from './user-decider.ts';
import {
  emailReservationDecider,
  type EmailReservationCommand,
  type EmailReservationState,
} from './email-reservation-decider.ts';

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

const foldUser = (events: readonly DomainEvent[]): UserState => events.reduce(userDecider.evolve, userDecider.initialState());
const decideUser = (history: readonly DomainEvent[], command: UserCommand): DomainEvent[] => userDecider.decide(command, foldUser(history));

const foldReservation = (events: readonly DomainEvent[]): EmailReservationState =>
  events.reduce(emailReservationDecider.evolve, emailReservationDecider.initialState());
const decideReservation = (history: readonly DomainEvent[], command: EmailReservationCommand): DomainEvent[] =>
  emailReservationDecider.decide(command, foldReservation(history));


// --- user --------------------------------------------------------------------------------------

test('EraseUser records PersonalDataErased for a deleted user only: a live one is deleted first, an unknown one is not found', () => {
  const userId = randomUUID();
  const created: DomainEvent = { type: 'UserCreated', data: userCreated(userId) };
  const deleted: DomainEvent = { type: 'UserDeleted', data: { userId, projectId } };
  const erase = { type: 'EraseUser', userId, projectId, subjects: [`user:${userId}`], nowMs: 1_700_000_100_000 } as const;
  throwsKnown(() => decideUser([created], { ...erase, subjects: [...erase.subjects] }), 'USER_NOT_FOUND');
  throwsKnown(() => decideUser([], { ...erase, subjects: [...erase.subjects] }), 'USER_NOT_FOUND');
  throwsKnown(() => decideUser([created, deleted], { ...erase, projectId: otherProjectId, subjects: [...erase.subjects] }), 'USER_NOT_FOUND');
  assert.equal(decideUser([created, deleted], { ...erase, subjects: [...erase.subjects] }), [
    { type: 'PersonalDataErased', data: { userId, projectId, subjects: [`user:${userId}`], erasedAtMillis: 1_700_000_100_000 } },
  ]);
});

test('CreateUser on an empty stream decides UserCreated and folds to an active user of that project', () => {
  const userId = randomUUID();
  const data = userCreated(userId);
  const events = decideUser([], { type: 'CreateUser', data });
  assert.equal(events, [{ type: 'UserCreated', data }]);
  assert.equal(foldUser(events), { status: 'active', projectId, primaryEmail: 'ada@example.com', primaryEmailDigest: undefined, primaryEmailVerified: false });
});

test('CreateUser on a stream that already holds a user is refused', () => {
  const userId = randomUUID();
  const history: DomainEvent[] = [{ type: 'UserCreated', data: userCreated(userId) }];
  assert.throws(() => decideUser(history, { type: 'CreateUser', data: userCreated(userId) }), /exists already/);
});

test('DeleteUser of an active user decides UserDeleted and folds to deleted, keeping the email for release', () => {
  const userId = randomUUID();
  const history: DomainEvent[] = [{ type: 'UserCreated', data: userCreated(userId) }];
  const events = decideUser(history, { type: 'DeleteUser', userId, projectId });
  assert.equal(events, [{ type: 'UserDeleted', data: { userId, projectId } }]);
  const state = foldUser([...history, ...events]);
  assert.is(state.status, 'deleted');
  assert.is(state.primaryEmail, 'ada@example.com');
});

test('UpdateUser decides UserUpdated with the fields given; a verified flag that does not change is left out; nothing given decides nothing', () => {
  const userId = randomUUID();
  const history: DomainEvent[] = [{ type: 'UserCreated', data: userCreated(userId) }];
  assert.equal(decideUser(history, { type: 'UpdateUser', profile: { userId, projectId, displayName: 'Ada L.' } }), [
    { type: 'UserUpdated', data: { userId, projectId, displayName: 'Ada L.' } },
  ]);
  assert.equal(decideUser(history, { type: 'UpdateUser', profile: { userId, projectId, primaryEmailVerified: false } }), [], 'already unverified');
  const verified = decideUser(history, { type: 'UpdateUser', profile: { userId, projectId, primaryEmailVerified: true } });
  assert.equal(verified, [{ type: 'UserUpdated', data: { userId, projectId, primaryEmailVerified: true } }]);
  assert.is(foldUser([...history, ...verified]).primaryEmailVerified, true);
});

test('UpdateUser with an email change decides UserPrimaryEmailChanged first; verified without an email is refused; a deleted user is not found', () => {
  const userId = randomUUID();
  const history: DomainEvent[] = [{ type: 'UserCreated', data: userCreated(userId) }];
  const email = { userId, projectId, primaryEmail: 'new@example.com', primaryEmailDigest: 'digest-new', primaryEmailVerified: false };
  const events = decideUser(history, { type: 'UpdateUser', profile: { userId, projectId, displayName: null }, email });
  assert.equal(events.map((e) => e.type), ['UserPrimaryEmailChanged', 'UserUpdated']);
  const after = foldUser([...history, ...events]);
  assert.equal([after.primaryEmail, after.primaryEmailDigest, after.primaryEmailVerified], ['new@example.com', 'digest-new', false]);
  const removed = { userId, projectId, primaryEmail: null, primaryEmailVerified: false };
  throwsKnown(() => decideUser(history, { type: 'UpdateUser', profile: { userId, projectId, primaryEmailVerified: true }, email: removed }), 'SCHEMA_ERROR');
  const deleted: DomainEvent[] = [...history, { type: 'UserDeleted', data: { userId, projectId } }];
  throwsKnown(() => decideUser(deleted, { type: 'UpdateUser', profile: { userId, projectId, displayName: 'x' } }), 'USER_NOT_FOUND');
  throwsKnown(() => decideUser(history, { type: 'UpdateUser', profile: { userId, projectId: otherProjectId, displayName: 'x' } }), 'USER_NOT_FOUND');
});

test('deleting a user twice is refused with USER_NOT_FOUND', () => {
  const userId = randomUUID();
  const history: DomainEvent[] = [
    { type: 'UserCreated', data: userCreated(userId) },
    { type: 'UserDeleted', data: { userId, projectId } },
  ];
  throwsKnown(() => decideUser(history, { type: 'DeleteUser', userId, projectId }), 'USER_NOT_FOUND');
});

test('deleting a user that never existed is refused with USER_NOT_FOUND', () => {
  const userId = randomUUID();
  throwsKnown(() => decideUser([], { type: 'DeleteUser', userId, projectId }), 'USER_NOT_FOUND');
});

test('deleting a user through another project is refused with USER_NOT_FOUND', () => {
  const userId = randomUUID();
  const history: DomainEvent[] = [{ type: 'UserCreated', data: userCreated(userId) }];
  throwsKnown(() => decideUser(history, { type: 'DeleteUser', userId, projectId: otherProjectId }), 'USER_NOT_FOUND');
  // ...and the user is still deletable in its own project.
  assert.is(decideUser(history, { type: 'DeleteUser', userId, projectId }).length, 1);
});

test('user evolve ignores events of other aggregates', () => {
  const state = foldUser([{ type: 'UserCreated', data: userCreated(randomUUID()) }]);
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
  const events = decideReservation([], reserve(userId, undefined));
  assert.equal(events, [reserved(userId)]);
  assert.is(foldReservation(events).holder, userId);
});

test('reserving an email released earlier is allowed', () => {
  const first = randomUUID();
  const second = randomUUID();
  assert.equal(decideReservation([reserved(first), released(first)], reserve(second, undefined)), [reserved(second)]);
});

test('reserving an email held by a live user is refused with USER_EMAIL_ALREADY_EXISTS', () => {
  const holder = randomUUID();
  throwsKnown(() => decideReservation([reserved(holder)], reserve(randomUUID(), true, holder)), 'USER_EMAIL_ALREADY_EXISTS');
  throwsKnown(() => decideReservation([reserved(holder)], reserve(randomUUID(), undefined)), 'USER_EMAIL_ALREADY_EXISTS');
});

test('reserving an email whose holder may still be being created (liveness unknown) is refused', () => {
  const holder = randomUUID();
  throwsKnown(() => decideReservation([reserved(holder)], reserve(randomUUID(), undefined, holder)), 'USER_EMAIL_ALREADY_EXISTS');
});

test('a holder found dead is not taken over once another user holds the email (a retry after a race)', () => {
  const dead = randomUUID();
  const winner = randomUUID();
  // The caller checked `dead`; meanwhile `winner` took the email over, so the check is stale.
  throwsKnown(() => decideReservation([reserved(dead), reserved(winner)], reserve(randomUUID(), false, dead)), 'USER_EMAIL_ALREADY_EXISTS');
});

test('reserving an email held by a dead user takes the reservation over', () => {
  const dead = randomUUID();
  const newcomer = randomUUID();
  const events = decideReservation([reserved(dead)], reserve(newcomer, false, dead));
  assert.equal(events, [reserved(newcomer)]);
  assert.is(foldReservation([reserved(dead), ...events]).holder, newcomer);
});

test('the holder reserving its own email again decides nothing, whatever the liveness says', () => {
  const userId = randomUUID();
  assert.equal(decideReservation([reserved(userId)], reserve(userId, true, userId)), []);
  assert.equal(decideReservation([reserved(userId)], reserve(userId, false, userId)), []);
  assert.equal(decideReservation([reserved(userId)], reserve(userId, undefined)), []);
});

test('the holder releasing its email decides UserEmailReleased and frees it', () => {
  const userId = randomUUID();
  const events = decideReservation([reserved(userId)], { type: 'Release', projectId, userId });
  assert.equal(events, [released(userId)]);
  assert.is(foldReservation([reserved(userId), ...events]).holder, undefined);
});

test('a non-holder releasing the email decides nothing and cannot free it', () => {
  const holder = randomUUID();
  const stranger = randomUUID();
  assert.equal(decideReservation([reserved(holder)], { type: 'Release', projectId, userId: stranger }), []);
  assert.equal(decideReservation([], { type: 'Release', projectId, userId: stranger }), []);
  // Even a stray UserEmailReleased of someone else (a stale release after a takeover) keeps the holder.
  assert.is(foldReservation([reserved(holder), released(stranger)]).holder, holder);
});

test('a release by the previous holder after a takeover leaves the new holder in place', () => {
  const dead = randomUUID();
  const newcomer = randomUUID();
  const history = [reserved(dead), reserved(newcomer)];
  assert.equal(decideReservation(history, { type: 'Release', projectId, userId: dead }), []);
  assert.is(foldReservation([...history, released(dead)]).holder, newcomer);
});

test.run();
