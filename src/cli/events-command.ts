// `authlog events tail|show`: the log as an operator reads it, one line per event (or JSON), with
// secrets only ever as the digests the log holds.
import { parseArgs } from 'node:util';
import type { Config } from '../config.ts';
import { openLog } from '../backends.ts';
import { eventJson, eventLine, openedEvent } from '../audit/event-lines.ts';
import { DATA_KEY_STREAM_PREFIX } from '../keystore/esdb-data-key-store.ts';
import type { PersonalData } from '../crypto/personal-data.ts';
import { STREAM_CATEGORIES } from '../events/streams.ts';
import type { AllFilter, RecordedEvent } from '../store/event-store.ts';
import { UsageError } from './usage.ts';
import type { CliIo } from './cli-io.ts';

export async function eventsCommand(config: Config, args: string[], io: CliIo, untilStopped: Promise<void>): Promise<void> {
  const [sub, ...rest] = args;
  if (sub === 'show') return show(config, rest, io);
  if (sub === 'tail') return tail(config, rest, io, untilStopped);
  throw new UsageError('try: authlog events tail [--follow] [--category C] [--type T] [--stream S] [--json]  or  authlog events show STREAM');
}

async function show(config: Config, rest: string[], io: CliIo): Promise<void> {
  const { values, positionals } = parseArgs({ args: rest, options: { json: { type: 'boolean', default: false } }, strict: true, allowPositionals: true });
  const stream = positionals[0];
  if (!stream || positionals.length > 1) throw new UsageError('events show needs one STREAM, e.g. session-<uuid>');
  const log = openLog(config);
  try {
    const events = stream.startsWith(DATA_KEY_STREAM_PREFIX) ? [] : await log.store.readStream(stream);
    if (events.length === 0) io.err(`no stream ${stream}`);
    for (const e of events) io.out(await render(log.personal, e, values.json));
  } finally {
    await log.close();
  }
}

async function tail(config: Config, rest: string[], io: CliIo, untilStopped: Promise<void>): Promise<void> {
  const { values } = parseArgs({
    args: rest,
    options: {
      follow: { type: 'boolean', short: 'f', default: false },
      category: { type: 'string' },
      type: { type: 'string' },
      stream: { type: 'string' },
      json: { type: 'boolean', default: false },
      lines: { type: 'string', short: 'n', default: '20' },
    },
    strict: true,
    allowPositionals: false,
  });
  const lines = Number(values.lines);
  if (!Number.isInteger(lines) || lines < 0) throw new UsageError('--lines must be a whole number');
  if (values.category && !(STREAM_CATEGORIES as readonly string[]).includes(values.category)) {
    throw new UsageError(`--category must be one of ${STREAM_CATEGORIES.join(', ')}`);
  }
  const filter: AllFilter = {
    ...(values.stream ? { streamPrefixes: [values.stream] } : values.category ? { streamPrefixes: [`${values.category}-`] } : {}),
    ...(values.type ? { eventTypes: [values.type] } : {}),
  };
  // Data keys (their own streams on EventStoreDB) are never shown, wrapped or not.
  const matches = (e: RecordedEvent) =>
    !e.streamId.startsWith(DATA_KEY_STREAM_PREFIX) && (!values.stream || e.streamId === values.stream) && (!values.type || e.type === values.type);
  const log = openLog(config);
  const store = log.store;
  // Printed in order: each line waits for the one before it to be opened.
  let printed = Promise.resolve();
  const print = (e: RecordedEvent) => {
    printed = printed.then(async () => io.out(await render(log.personal, e, values.json)));
    return printed;
  };
  try {
    // The last `lines` events: a window slides over the log, so memory stays small however long it is.
    const last: RecordedEvent[] = [];
    let position: bigint | undefined;
    for await (const e of store.readAll({ filter })) {
      position = e.position;
      if (!matches(e)) continue;
      last.push(e);
      if (last.length > lines) last.shift();
    }
    for (const e of last) await print(e);
    if (!values.follow) return;
    const head = await store.headPosition();
    const subscription = store.subscribeToAll(
      { fromPosition: position !== undefined && position > head ? position : head, filter },
      { onEvent: (e) => void (matches(e) && print(e)), onError: (error) => io.err(`authlog: ${error.message}`) },
    );
    io.err('(following new events; Ctrl-C to stop)');
    await untilStopped;
    await subscription.close();
    await printed;
  } finally {
    await log.close();
  }
}

/** One event as an operator reads it, its personal data opened (`[erased]` where the key is gone). */
async function render(personal: PersonalData, e: RecordedEvent, json: boolean): Promise<string> {
  const opened = await openedEvent(personal, e);
  return json ? JSON.stringify(eventJson(opened)) : eventLine(opened);
}
