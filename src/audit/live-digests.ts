// What in the log is still live and holds a digest under the server secret, each with the
// fingerprint of the secret that made its digest (the `secretId` of the event that introduced
// it; undefined for events written before fingerprints were recorded). A fold over `$all` in
// position order, pure: `authlog secret status` classifies what it answers.
//
// The event that *introduces* a digest names its secret, not a later one that copies it: a
// revocation written under a new secret repeats the old digest (SessionRevoked, ProjectKeyRevoked).
import type { EventData, EventType } from '../events/catalogue.ts';
import type { RecordedEvent } from '../store/event-store.ts';
import { categoryOf } from '../events/streams.ts';
import { isKeyLive, keysAfterCreated, keysAfterRevoked, keysAfterRotated, type ProjectKey } from '../commands/project/project-keys.ts';

export interface LiveThing {
  secretId: string | undefined;
}

export interface EmailReservation extends LiveThing {
  /** The email's digest, from the stream's name (`userEmail-<project>.<digest>`). */
  digest: string;
  holder: string;
}

export interface LiveDigests {
  apiKeys: LiveThing[];
  sessions: LiveThing[];
  cliLogins: LiveThing[];
  signInCodes: LiveThing[];
  emailReservations: EmailReservation[];
}

interface Expiring extends LiveThing {
  expiresAtMillis: number;
}

const dataOf = <T extends EventType>(event: RecordedEvent, _type: T): EventData<T> => event.data as EventData<T>;

/** Folds `events` (the whole log, in position order) into what is live at `nowMs`. */
export async function liveDigests(events: AsyncIterable<RecordedEvent>, nowMs: number): Promise<LiveDigests> {
  const projects = new Map<string, ProjectKey[]>();
  const keySecret = new Map<string, string | undefined>();
  const sessions = new Map<string, Expiring>();
  const cliLogins = new Map<string, Expiring>();
  const signInCodes = new Map<string, Expiring>();
  const reservations = new Map<string, { secretId: string | undefined; digest: string; holder: string | undefined }>();

  for await (const event of events) {
    const secretId = event.metadata.secretId;
    switch (event.type) {
      case 'ProjectCreated': {
        const data = dataOf(event, 'ProjectCreated');
        const keys = keysAfterCreated(data.keys);
        for (const k of keys) keySecret.set(k.id, secretId);
        projects.set(data.projectId, keys);
        break;
      }
      case 'ProjectKeyRotated': {
        const data = dataOf(event, 'ProjectKeyRotated');
        keySecret.set(data.newKey.id, secretId);
        projects.set(data.projectId, keysAfterRotated(projects.get(data.projectId) ?? [], data));
        break;
      }
      case 'ProjectKeyRevoked': {
        const data = dataOf(event, 'ProjectKeyRevoked');
        projects.set(data.projectId, keysAfterRevoked(projects.get(data.projectId) ?? [], data));
        break;
      }
      case 'SessionCreated': {
        const data = dataOf(event, 'SessionCreated');
        sessions.set(data.sessionId, { secretId, expiresAtMillis: data.expiresAtMillis });
        break;
      }
      case 'SessionRefreshTokenRotated': {
        // The successor's digest is made now; the retired one works only for a short grace.
        const data = dataOf(event, 'SessionRefreshTokenRotated');
        if (sessions.has(data.sessionId)) sessions.set(data.sessionId, { secretId, expiresAtMillis: data.sessionExpiresAtMillis });
        break;
      }
      case 'SessionRevoked':
        sessions.delete(dataOf(event, 'SessionRevoked').sessionId);
        break;
      case 'CliAuthInitiated': {
        const data = dataOf(event, 'CliAuthInitiated');
        cliLogins.set(data.cliAuthId, { secretId, expiresAtMillis: data.expiresAtMillis });
        break;
      }
      case 'CliAuthClaimed':
      case 'CliAuthDenied':
        // Claimed: its polling code has done its work (the session it minted is counted as one).
        cliLogins.delete((event.data as { cliAuthId: string }).cliAuthId);
        break;
      case 'SignInCodeSent': {
        const data = dataOf(event, 'SignInCodeSent');
        signInCodes.set(data.nonceDigest, { secretId, expiresAtMillis: data.expiresAtMillis });
        break;
      }
      case 'SignInCodeUsed':
      case 'SignInCodeLocked':
        signInCodes.delete((event.data as { nonceDigest: string }).nonceDigest);
        break;
      case 'UserEmailReserved':
      case 'UserEmailReleased': {
        if (categoryOf(event.streamId) !== 'userEmail') break;
        const { userId } = event.data as { userId: string };
        // The stream's name holds the digest: its first event was written under the secret that made it.
        const held = reservations.get(event.streamId) ?? { secretId, digest: event.streamId.slice(event.streamId.indexOf('.') + 1), holder: undefined };
        if (event.type === 'UserEmailReserved') held.holder = userId;
        else if (held.holder === userId) held.holder = undefined;
        reservations.set(event.streamId, held);
        break;
      }
      default:
        break;
    }
  }

  const unexpired = (m: Map<string, Expiring>): LiveThing[] => [...m.values()].filter((t) => nowMs < t.expiresAtMillis).map(({ secretId }) => ({ secretId }));
  return {
    apiKeys: [...projects.values()].flat().filter((k) => isKeyLive(k, nowMs)).map((k) => ({ secretId: keySecret.get(k.id) })),
    sessions: unexpired(sessions),
    cliLogins: unexpired(cliLogins),
    signInCodes: unexpired(signInCodes),
    emailReservations: [...reservations.values()].flatMap((r) => (r.holder === undefined ? [] : [{ secretId: r.secretId, digest: r.digest, holder: r.holder }])),
  };
}
