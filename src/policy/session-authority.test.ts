// Every way a session comes to be, against the one rule of what it may do and how long it lives.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { randomUUID } from 'node:crypto';
import type { Actor } from '../events/actor.ts';
import { isStartedByUser, mayActAsAdmin, termsForNewSession, termsOf, type NewSessionRequest, type ParentSession } from './session-authority.ts';

const NOW = Date.parse('2026-12-01T10:00:00Z');
const YEAR = 365 * 24 * 3600_000;
const serverKey: Actor = { kind: 'server-key', id: 'k1' };
const adminKey: Actor = { kind: 'admin-key', id: 'z1' };
const adminUser: Actor = { kind: 'admin-user', id: 'a1', sessionId: randomUUID() };
const clientKey: Actor = { kind: 'client-key', id: 'c1' };

const request = (over: Partial<NewSessionRequest>): NewSessionRequest => ({ via: 'sessions-api', isImpersonation: false, createdBy: serverKey, nowMs: NOW, expiresInMs: YEAR, ...over });
const asParent = (req: NewSessionRequest, parent?: ParentSession): ParentSession => {
  const { terms, createdBy } = termsForNewSession(req, parent);
  return { ...terms, sessionId: randomUUID(), createdBy };
};

test('a sign-in with a code is started by the user and may act as admin', () => {
  const { terms } = termsForNewSession(request({ via: 'sign-in-code', createdBy: clientKey }), undefined);
  assert.equal([terms.startedByUser, terms.isImpersonation, mayActAsAdmin(terms), terms.actorChain], [true, false, true, []]);
});

test('a session a server key, admin key or admin user created through /auth/sessions never carries admin rights, impersonation or not', () => {
  for (const createdBy of [serverKey, adminKey, adminUser]) {
    for (const isImpersonation of [false, true]) {
      const { terms } = termsForNewSession(request({ createdBy, isImpersonation }), undefined);
      assert.is(mayActAsAdmin(terms), false, `${createdBy.kind}, impersonation ${isImpersonation}`);
      assert.is(terms.startedByUser, false);
    }
  }
});

test('an impersonation session names its creator as the one actor of its chain', () => {
  const { terms } = termsForNewSession(request({ createdBy: adminUser, isImpersonation: true }), undefined);
  assert.equal(terms.actorChain, ['admin-user:a1']);
  assert.is(terms.endsWithParent, false);
});

test('a CLI login approved from a session the user started may act as admin, and never outlives its parent', () => {
  const browser = asParent(request({ via: 'sign-in-code', createdBy: clientKey, expiresInMs: 3600_000 }));
  const { terms, createdBy } = termsForNewSession(request({ via: 'cli-login', createdBy: clientKey }), browser);
  assert.is(mayActAsAdmin(terms), true);
  assert.is(terms.expiresAtMillis, NOW + 3600_000, 'bounded by the parent');
  assert.is(terms.endsWithParent, false, "a person's CLI and browser sessions stay independent");
  assert.is(terms.parentSessionId, browser.sessionId);
  assert.equal(createdBy, clientKey);
});

test('a CLI login approved from a key-made plain session is not started by the user: no admin rights', () => {
  const keyMade = asParent(request({ createdBy: serverKey }));
  const { terms } = termsForNewSession(request({ via: 'cli-login', createdBy: clientKey }), keyMade);
  assert.equal([terms.startedByUser, mayActAsAdmin(terms), terms.isImpersonation], [false, false, false]);
});

test('a CLI login approved from an impersonation session is one too: same actor, chain nested, ends with its parent, expires with it', () => {
  const impersonation = asParent(request({ createdBy: serverKey, isImpersonation: true, expiresInMs: 60_000 }));
  const { terms, createdBy } = termsForNewSession(request({ via: 'cli-login', createdBy: clientKey }), impersonation);
  assert.equal(createdBy, serverKey, 'the impersonator stays the one responsible');
  assert.equal([terms.isImpersonation, terms.endsWithParent, mayActAsAdmin(terms)], [true, true, false]);
  assert.equal(terms.actorChain, ['server-key:k1', 'server-key:k1']);
  assert.is(terms.expiresAtMillis, NOW + 60_000, 'a 60 s impersonation cannot become a year-long session');
  // And once more down the line.
  const grandchild = termsForNewSession(request({ via: 'cli-login', createdBy: clientKey }), { ...terms, sessionId: randomUUID(), createdBy }).terms;
  assert.equal(grandchild.actorChain, ['server-key:k1', 'server-key:k1', 'server-key:k1']);
  assert.is(grandchild.expiresAtMillis, NOW + 60_000);
});

test('isStartedByUser: only sign-in-code, or cli-login from such a session', () => {
  assert.is(isStartedByUser('sign-in-code', undefined), true);
  assert.is(isStartedByUser('sessions-api', undefined), false);
  assert.is(isStartedByUser('cli-login', undefined), false);
  assert.is(isStartedByUser('cli-login', { startedByUser: true, isImpersonation: true }), false);
  assert.is(isStartedByUser('cli-login', { startedByUser: true, isImpersonation: false }), true);
});

test('termsOf reads events written before the authority fields conservatively', () => {
  const base = { sessionId: randomUUID(), projectId: randomUUID(), userId: randomUUID(), refreshTokenDigest: 'd', createdAtMillis: NOW, expiresAtMillis: NOW + YEAR, createdBy: serverKey };
  const oldCli = termsOf({ ...base, isImpersonation: false, via: 'cli-login', approvingSessionId: randomUUID() });
  assert.is(mayActAsAdmin(oldCli), false, 'an older CLI session loses admin rights until its admin logs in again');
  assert.is(oldCli.endsWithParent, false);
  const oldImpersonatedCli = termsOf({ ...base, isImpersonation: true, via: 'cli-login', approvingSessionId: randomUUID() });
  assert.equal([oldImpersonatedCli.endsWithParent, oldImpersonatedCli.actorChain], [true, ['server-key:k1']]);
  assert.is(mayActAsAdmin(termsOf({ ...base, isImpersonation: false, via: 'sign-in-code' })), true);
});

test("an anonymous sign-up's session, and the browser's copy of a CLI's anonymous session, never carry admin rights; the copy never outlives the CLI's", () => {
  const anonymous = asParent(request({ via: 'anonymous-sign-up', createdBy: clientKey, expiresInMs: 3600_000 }));
  assert.equal([anonymous.startedByUser, mayActAsAdmin(anonymous)], [false, false]);
  const { terms } = termsForNewSession(request({ via: 'cli-anonymous-handover', createdBy: clientKey }), anonymous);
  assert.equal([terms.startedByUser, mayActAsAdmin(terms), terms.isImpersonation], [false, false, false]);
  assert.is(terms.expiresAtMillis, NOW + 3600_000, 'bounded by the CLI session');
  // Even derived from a session a person started, a hand-over is no person's session.
  assert.is(isStartedByUser('cli-anonymous-handover', asParent(request({ via: 'sign-in-code', createdBy: clientKey }))), false);
});

test.run();
