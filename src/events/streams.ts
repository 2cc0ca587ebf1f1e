// Stream naming: `<category>-<id>`, EventStoreDB's `$ce` convention, so `$ce-session` works on
// a real server and `category` filters are plain prefixes.
export const STREAM_CATEGORIES = ['project', 'user', 'userEmail', 'cliAuth', 'cliLoginCode', 'session', 'signInCode', 'signInEmail'] as const;
export type StreamCategory = (typeof STREAM_CATEGORIES)[number];

export const streamName = (category: StreamCategory, id: string): string => `${category}-${id}`;

/** Prefixes that select every stream of ours in `$all` (system and foreign streams excluded). */
export const OUR_STREAM_PREFIXES: readonly string[] = STREAM_CATEGORIES.map((c) => `${c}-`);

export function categoryOf(streamId: string): string {
  const dash = streamId.indexOf('-');
  return dash < 0 ? streamId : streamId.slice(0, dash);
}
