// Every projector of the service and the part of `$all` they read. One runner applies them
// together, so one checkpoint says how far the whole read model is.
import { OUR_STREAM_PREFIXES } from '../events/streams.ts';
import type { AllFilter } from '../store/event-store.ts';
import { combineProjectors } from './projector.ts';
import { projectProjector } from './project-projection.ts';
import { userProjector } from './user-projection.ts';
import { sessionProjector } from './session-projection.ts';
import { cliAuthProjector } from './cli-auth-projection.ts';
import { signInCodeProjector } from './sign-in-code-projection.ts';

export const allProjectors = combineProjectors(projectProjector, userProjector, sessionProjector, cliAuthProjector, signInCodeProjector);

export const projectionFilter: AllFilter = { streamPrefixes: OUR_STREAM_PREFIXES };
