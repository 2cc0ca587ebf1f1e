// Every aggregate of the write side: its stream category and its decider, bound once. A stream
// is named here and nowhere else; an instance named by a project and a digest (an email's
// reservation, a login code, an email's guess budget) has the id `projectScoped(...)` gives.
import { aggregate } from './handler.ts';
import { cliAuthDecider } from './cli-auth/cli-auth-decider.ts';
import { loginCodeDecider } from './cli-auth/login-code-decider.ts';
import { projectDecider } from './project/project-decider.ts';
import { sessionDecider } from './session/session-decider.ts';
import { signInCodeDecider } from './sign-in-code/sign-in-code-decider.ts';
import { signInEmailDecider } from './sign-in-code/sign-in-email-decider.ts';
import { emailReservationDecider } from './user/email-reservation-decider.ts';
import { userDecider } from './user/user-decider.ts';

/** The id of an instance that is unique within a project (`<projectId>.<digest>`). */
export const projectScoped = (projectId: string, digest: string): string => `${projectId}.${digest}`;

export const projects = aggregate('project', projectDecider);
export const users = aggregate('user', userDecider);
/** By projectScoped(projectId, email digest): who holds the address. */
export const emailReservations = aggregate('userEmail', emailReservationDecider);
export const sessions = aggregate('session', sessionDecider);
export const cliAuths = aggregate('cliAuth', cliAuthDecider);
/** By projectScoped(projectId, login-code digest): which attempt holds the code. */
export const loginCodes = aggregate('cliLoginCode', loginCodeDecider);
/** By the nonce's digest. */
export const signInCodes = aggregate('signInCode', signInCodeDecider);
/** By projectScoped(projectId, email digest): the address's guess budget. */
export const signInEmails = aggregate('signInEmail', signInEmailDecider);
