// Which fields of which events are personal, and whose they are. The sealing store seals exactly
// these (and every event's client address and user agent) before anything reaches the log; a new
// event with personal data is listed here, next to its schema.
import type { EventData, EventType } from './catalogue.ts';
import { subjects } from '../crypto/sealed.ts';

type PersonalFields<T extends EventType> = { fields: readonly (keyof EventData<T> & string)[]; subject: (data: EventData<T>) => string };

export const personalFields: { [T in EventType]?: PersonalFields<T> } = {
  UserCreated: { fields: ['primaryEmail', 'displayName'], subject: (d) => subjects.user(d.userId) },
  UserUpdated: { fields: ['displayName'], subject: (d) => subjects.user(d.userId) },
  UserPrimaryEmailChanged: { fields: ['primaryEmail'], subject: (d) => subjects.user(d.userId) },
  // Under the address's own subject: most addresses typed here never become users.
  SignInCodeSent: { fields: ['email'], subject: (d) => subjects.email(d.projectId, d.emailDigest) },
};
