// The project aggregate's rules (projectDecider) and the trusted-domain helpers used to accept
// sign-in callback URLs. Pure: no store, no clock.
import { throwsKnown } from '../../../test/support/throws-known.ts';
import { randomUUID } from 'node:crypto';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { DomainEvent, EventData } from '../../events/catalogue.ts';
import { projectDecider } from './project-decider.ts';
import { isOnTrustedDomain, normaliseTrustedDomain } from './change-project.ts';
import { deciderSpec } from '../../../test/support/decider-spec.ts';

const project = deciderSpec(projectDecider);

const keyRecord = () => ({ id: randomUUID(), digest: `digest-${randomUUID()}` });

function created(projectId: string, trustedDomains: string[] = ['https://app.example.com']): EventData<'ProjectCreated'> {
  return {
    projectId,
    name: 'Demo',
    trustedDomains,
    keys: { publishableClientKey: keyRecord(), secretServerKey: keyRecord(), superSecretAdminKey: keyRecord() },
  };
}




const projectId = randomUUID();
const createdEvent: DomainEvent = { type: 'ProjectCreated', data: created(projectId) };

test('CreateProject on an empty stream decides exactly one ProjectCreated carrying the command data', () => {
  const data = created(projectId);
  const events = project.given([]).when({ type: 'CreateProject', data }).events();
  assert.equal(events, [{ type: 'ProjectCreated', data }]);
});

test('a second CreateProject on the same stream is refused', () => {
  project.given([createdEvent]).when({ type: 'CreateProject', data: created(projectId) }).thenFails(/exists already/);
});

test('SetTrustedDomains on an unknown project is refused with CURRENT_PROJECT_NOT_FOUND naming the project', () => {
  const error = throwsKnown(
    () => project.given([]).when({ type: 'SetTrustedDomains', projectId, trustedDomains: ['https://x.example.com'] }).events(),
    'CURRENT_PROJECT_NOT_FOUND',
  );
  assert.equal(error.details, { project_id: projectId });
});

test('AddAdmin and RemoveAdmin on an unknown project are refused too', () => {
  const userId = randomUUID();
  project.given([]).when({ type: 'AddAdmin', projectId, userId }).thenThrows('CURRENT_PROJECT_NOT_FOUND');
  project.given([]).when({ type: 'RemoveAdmin', projectId, userId }).thenThrows('CURRENT_PROJECT_NOT_FOUND');
});

test('setting the trusted domains the project already has decides nothing', () => {
  const events = project.given([createdEvent]).when({ type: 'SetTrustedDomains', projectId, trustedDomains: ['https://app.example.com'] }).events();
  assert.equal(events, []);
});

test('setting different trusted domains decides ProjectTrustedDomainsChanged with the new list', () => {
  const trustedDomains = ['https://app.example.com', 'https://*.example.org'];
  const events = project.given([createdEvent]).when({ type: 'SetTrustedDomains', projectId, trustedDomains }).events();
  assert.equal(events, [{ type: 'ProjectTrustedDomainsChanged', data: { projectId, trustedDomains } }]);
  // An empty list differs from a non-empty one as well.
  assert.is(project.given([createdEvent]).when({ type: 'SetTrustedDomains', projectId, trustedDomains: [] }).events().length, 1);
});

test('AddAdmin adds once: adding an existing admin decides nothing', () => {
  const userId = randomUUID();
  const first = project.given([createdEvent]).when({ type: 'AddAdmin', projectId, userId }).events();
  assert.equal(first, [{ type: 'ProjectAdminAdded', data: { projectId, userId } }]);
  project.given([createdEvent, ...first]).when({ type: 'AddAdmin', projectId, userId }).thenNothing();
});

test('RemoveAdmin removes once: removing a non-admin decides nothing', () => {
  const userId = randomUUID();
  project.given([createdEvent]).when({ type: 'RemoveAdmin', projectId, userId }).thenNothing();
  const added: DomainEvent = { type: 'ProjectAdminAdded', data: { projectId, userId } };
  const removed = project.given([createdEvent, added]).when({ type: 'RemoveAdmin', projectId, userId }).events();
  assert.equal(removed, [{ type: 'ProjectAdminRemoved', data: { projectId, userId } }]);
  project.given([createdEvent, added, ...removed]).when({ type: 'RemoveAdmin', projectId, userId }).thenNothing();
});

test('evolve folds creation, domain changes and admin changes into the state', () => {
  const alice = randomUUID();
  const bob = randomUUID();
  const state = project.given([
    createdEvent,
    { type: 'ProjectAdminAdded', data: { projectId, userId: alice } },
    { type: 'ProjectAdminAdded', data: { projectId, userId: bob } },
    { type: 'ProjectTrustedDomainsChanged', data: { projectId, trustedDomains: ['https://new.example.com'] } },
    { type: 'ProjectAdminRemoved', data: { projectId, userId: alice } },
  ]).state;
  assert.is(state.exists, true);
  assert.is(state.name, 'Demo');
  assert.equal(state.trustedDomains, ['https://new.example.com']);
  assert.equal([...state.admins], [bob]);
});

test('evolve leaves the previous state untouched (admin sets are copied, not mutated)', () => {
  const userId = randomUUID();
  const before = project.given([createdEvent]).state;
  const after = projectDecider.evolve(before, { type: 'ProjectAdminAdded', data: { projectId, userId } });
  assert.is(before.admins.size, 0);
  assert.ok(after.admins.has(userId));
  const removed = projectDecider.evolve(after, { type: 'ProjectAdminRemoved', data: { projectId, userId } });
  assert.ok(after.admins.has(userId));
  assert.is(removed.admins.size, 0);
});

test('evolve ignores events of other aggregates', () => {
  const state = project.given([createdEvent]).state;
  const other: DomainEvent = { type: 'UserDeleted', data: { userId: randomUUID(), projectId } };
  assert.is(projectDecider.evolve(state, other), state);
  assert.is(project.given([other]).state.exists, false);
});

// --- trusted domains ---------------------------------------------------------------------------

test('normaliseTrustedDomain reduces a URL to its origin, lower-cased, default port dropped', () => {
  assert.is(normaliseTrustedDomain('https://App.Example.com/callback?x=1'), 'https://app.example.com');
  assert.is(normaliseTrustedDomain('https://app.example.com:443'), 'https://app.example.com');
  assert.is(normaliseTrustedDomain('http://localhost:3000/'), 'http://localhost:3000');
});

test('normaliseTrustedDomain keeps a leading wildcard label', () => {
  assert.is(normaliseTrustedDomain('https://*.Example.com/path'), 'https://*.example.com');
  assert.is(normaliseTrustedDomain('https://*.example.com:8443'), 'https://*.example.com:8443');
});

test('normaliseTrustedDomain rejects non-http(s) schemes and unparsable input', () => {
  assert.throws(() => normaliseTrustedDomain('ftp://example.com'), /http\(s\)/);
  assert.throws(() => normaliseTrustedDomain('javascript:alert(1)'));
  assert.throws(() => normaliseTrustedDomain('example.com'));
});

test('an exact trusted domain matches only its own origin', () => {
  const domains = ['https://app.example.com'];
  assert.is(isOnTrustedDomain('https://app.example.com/cb?code=1', domains), true);
  assert.is(isOnTrustedDomain('https://APP.example.com/cb', domains), true);
  assert.is(isOnTrustedDomain('https://other.example.com/cb', domains), false);
  assert.is(isOnTrustedDomain('https://app.example.com.evil.com/cb', domains), false);
  assert.is(isOnTrustedDomain('https://app.example.com@evil.com/cb', domains), false);
});

test('a wildcard domain matches subdomains at any depth, but not the apex nor a look-alike', () => {
  const domains = [normaliseTrustedDomain('https://*.example.com')];
  assert.is(isOnTrustedDomain('https://a.example.com/cb', domains), true);
  assert.is(isOnTrustedDomain('https://a.b.example.com/cb', domains), true);
  assert.is(isOnTrustedDomain('https://example.com/cb', domains), false);
  assert.is(isOnTrustedDomain('https://evil-example.com/cb', domains), false);
  assert.is(isOnTrustedDomain('https://a.example.com.evil.com/cb', domains), false);
});

test('scheme and port must match, for exact and wildcard domains alike', () => {
  assert.is(isOnTrustedDomain('http://app.example.com/cb', ['https://app.example.com']), false);
  assert.is(isOnTrustedDomain('https://app.example.com:8443/cb', ['https://app.example.com']), false);
  assert.is(isOnTrustedDomain('https://app.example.com:443/cb', ['https://app.example.com']), true);
  const wildcard = ['https://*.example.com'];
  assert.is(isOnTrustedDomain('http://a.example.com/cb', wildcard), false);
  assert.is(isOnTrustedDomain('https://a.example.com:8443/cb', wildcard), false);
  const wildcardWithPort = [normaliseTrustedDomain('https://*.example.com:8443')];
  assert.is(isOnTrustedDomain('https://a.example.com:8443/cb', wildcardWithPort), true);
  assert.is(isOnTrustedDomain('https://a.example.com/cb', wildcardWithPort), false);
});

test('an unparsable callback URL or an empty domain list is never trusted', () => {
  assert.is(isOnTrustedDomain('not a url', ['https://app.example.com']), false);
  assert.is(isOnTrustedDomain('/relative/path', ['https://app.example.com']), false);
  assert.is(isOnTrustedDomain('https://app.example.com/cb', []), false);
});

test('SetRateLimits records the overrides whole; the same overrides in another order decide nothing', () => {
  const rateLimits = { 'cli-polls-per-code': { limit: 30, windowMs: 10_000 }, 'sign-in-sends-per-email': { limit: 2, windowMs: 60_000 } };
  const events = project.given([createdEvent]).when({ type: 'SetRateLimits', projectId, rateLimits }).events();
  assert.equal(events, [{ type: 'ProjectRateLimitsChanged', data: { projectId, rateLimits } }]);
  assert.equal(project.given([createdEvent, ...events]).state.rateLimits, rateLimits);
  const reordered = { 'sign-in-sends-per-email': rateLimits['sign-in-sends-per-email'], 'cli-polls-per-code': rateLimits['cli-polls-per-code'] };
  project.given([createdEvent, ...events]).when({ type: 'SetRateLimits', projectId, rateLimits: reordered }).thenNothing();
  assert.equal(project.given([createdEvent, ...events]).when({ type: 'SetRateLimits', projectId, rateLimits: {} }).events().length, 1, 'clearing them is a change');
});

test('SetRateLimits on an unknown project is refused with CURRENT_PROJECT_NOT_FOUND', () => {
  project.given([]).when({ type: 'SetRateLimits', projectId, rateLimits: {} }).thenThrows('CURRENT_PROJECT_NOT_FOUND');
});

test('SetConfig decides ProjectConfigChanged with only the settings that change; the defaults are upstream\'s (both off)', () => {
  assert.equal(project.given([createdEvent]).state.config, { requirePublishableClientKey: false, clientUserDeletionEnabled: false });
  assert.equal(project.given([createdEvent]).when({ type: 'SetConfig', projectId, config: { requirePublishableClientKey: false } }).events(), []);
  const events = project.given([createdEvent]).when({ type: 'SetConfig', projectId, config: { requirePublishableClientKey: true, clientUserDeletionEnabled: false } }).events();
  assert.equal(events, [{ type: 'ProjectConfigChanged', data: { projectId, requirePublishableClientKey: true } }]);
  assert.equal(project.given([createdEvent, ...events]).state.config, { requirePublishableClientKey: true, clientUserDeletionEnabled: false });
  throwsKnown(() => project.given([]).when({ type: 'SetConfig', projectId, config: { clientUserDeletionEnabled: true } }).events(), 'CURRENT_PROJECT_NOT_FOUND');
});

test.run();
