// What a session may do, how long it may live and what ends it all follow from how it came to
// be. This is the one place that says so; the session decider, the projection, the admin check
// and the audit all read these functions, so a new way of making sessions is judged here.
//
// The rule (DESIGN.md, "Trust"): a credential never mints one that outranks or outlives it.
//   - Admin rights as a person come only from a session the person started themselves: a
//     sign-in with an emailed code (the API or the approval page), or a CLI login approved from
//     such a session. A session a key created through /auth/sessions never carries them, whoever
//     its user is: a server key must not become a named admin.
//   - A derived session (a CLI login approved from a session) records its parent and never
//     expires after it; an impersonation session's descendants are impersonation sessions of the
//     same actor, and end the moment any ancestor ends.
import type { EventData } from '../events/catalogue.ts';
import type { Actor } from '../events/actor.ts';
import { actorSubject } from '../actor-subject.ts';

type Created = EventData<'SessionCreated'>;

/** What a session is, as far as authority goes: read from its SessionCreated. */
export interface SessionTerms {
  isImpersonation: boolean;
  /** The person started it themselves (no key or impersonator in between). */
  startedByUser: boolean;
  /** The session it was derived from, if any. */
  parentSessionId: string | undefined;
  /** Revoking (or the end of) the parent ends this session too. */
  endsWithParent: boolean;
  /**
   * The RFC 8693 actor chain of its tokens, current actor first (`act.sub`), each further one
   * nested inside the previous `act`; empty for a session that acts for nobody.
   */
  actorChain: readonly string[];
  expiresAtMillis: number;
}

/** The parent's terms and its creator, as the derived session's decision needs them. */
export interface ParentSession extends SessionTerms {
  sessionId: string;
  createdBy: Actor;
}

/** The one rule for admin rights: only a session the person started, never an impersonation. */
export const mayActAsAdmin = (terms: Pick<SessionTerms, 'isImpersonation' | 'startedByUser'>): boolean => terms.startedByUser && !terms.isImpersonation;

/** Whether a new session of this kind counts as started by its user. */
export function isStartedByUser(via: Created['via'], parent: Pick<SessionTerms, 'isImpersonation' | 'startedByUser'> | undefined): boolean {
  switch (via) {
    case 'sign-in-code':
      return true;
    case 'cli-login':
      // The person approved it, but only from a session of theirs that they started.
      return parent !== undefined && mayActAsAdmin(parent);
    case 'sessions-api':
      return false;
    // An anonymous user is nobody in particular: their sessions never carry a person's rights,
    // nor does the browser's copy of a CLI's anonymous session handed over at approval.
    case 'anonymous-sign-up':
    case 'cli-anonymous-handover':
      return false;
  }
}

/**
 * The terms of a SessionCreated, also for events written before these fields existed: such an
 * event is judged conservatively (only a sign-in with a code counts as started by the user, so an
 * older CLI session loses admin rights until its admin logs in again; an older CLI session of an
 * impersonator ends with its approving session).
 */
export function termsOf(data: Created): SessionTerms {
  const parentSessionId = data.parentSessionId ?? data.approvingSessionId;
  const legacyChain = data.isImpersonation ? [actorSubject(data.createdBy)] : [];
  return {
    isImpersonation: data.isImpersonation,
    startedByUser: data.startedByUser ?? data.via === 'sign-in-code',
    parentSessionId,
    endsWithParent: data.endsWithParent ?? (data.isImpersonation && parentSessionId !== undefined),
    actorChain: data.actorChain ?? legacyChain,
    expiresAtMillis: data.expiresAtMillis,
  };
}

export interface NewSessionRequest {
  via: Created['via'];
  isImpersonation: boolean;
  createdBy: Actor;
  nowMs: number;
  expiresInMs: number;
}

/**
 * The terms and creator of a new session: from the request alone, or bounded by the parent it is
 * derived from. A derived session inherits impersonation (and its actor, who stays the one
 * responsible), and its actor chain nests the parent's.
 */
export function termsForNewSession(request: NewSessionRequest, parent: ParentSession | undefined): { terms: SessionTerms; createdBy: Actor } {
  const wanted = request.nowMs + request.expiresInMs;
  if (!parent) {
    return {
      createdBy: request.createdBy,
      terms: {
        isImpersonation: request.isImpersonation,
        startedByUser: isStartedByUser(request.via, undefined),
        parentSessionId: undefined,
        endsWithParent: false,
        actorChain: request.isImpersonation ? [actorSubject(request.createdBy)] : [],
        expiresAtMillis: wanted,
      },
    };
  }
  const isImpersonation = request.isImpersonation || parent.isImpersonation;
  // The impersonator acting through the parent is who acts through the child.
  const createdBy = parent.isImpersonation ? parent.createdBy : request.createdBy;
  return {
    createdBy,
    terms: {
      isImpersonation,
      startedByUser: isStartedByUser(request.via, parent),
      parentSessionId: parent.sessionId,
      // A person's own CLI and browser sessions stay independent (signing out the browser does not
      // sign out the terminal); what an impersonator derived ends with the impersonation.
      endsWithParent: parent.isImpersonation,
      actorChain: isImpersonation ? [actorSubject(createdBy), ...parent.actorChain] : [],
      expiresAtMillis: Math.min(wanted, parent.expiresAtMillis),
    },
  };
}

/** The event fields that record the terms (the rest of SessionCreated is the caller's). */
export function termsFields(terms: SessionTerms): Pick<Created, 'startedByUser' | 'parentSessionId' | 'endsWithParent' | 'actorChain'> {
  return {
    startedByUser: terms.startedByUser,
    ...(terms.parentSessionId !== undefined ? { parentSessionId: terms.parentSessionId } : {}),
    endsWithParent: terms.endsWithParent,
    ...(terms.actorChain.length > 0 ? { actorChain: [...terms.actorChain] } : {}),
  };
}
