// The one byte form an event is hashed in, whatever the adapter that stored it: SQLite keeps JSON
// text, EventStoreDB hands back parsed JSON, and neither promises to keep the order of an object's
// keys or the spacing. So a value is written as JSON with every object's keys sorted (by UTF-16
// code units, as RFC 8785 does), no whitespace, and exactly what a JSON round trip keeps: keys
// whose value is undefined are left out, undefined in an array is null, numbers as JSON.stringify
// writes them (which parses back to the same number). A value that JSON cannot hold (a bigint) is
// refused rather than guessed at.

export function canonicalJson(value: unknown): string {
  if (value === null || value === undefined) return 'null';
  switch (typeof value) {
    case 'string':
    case 'boolean':
      return JSON.stringify(value);
    case 'number':
      return Number.isFinite(value) ? JSON.stringify(value) : 'null';
    case 'object':
      break;
    default:
      throw new TypeError(`canonicalJson: a ${typeof value} has no JSON form`);
  }
  const withToJson = value as { toJSON?: () => unknown };
  if (typeof withToJson.toJSON === 'function') return canonicalJson(withToJson.toJSON());
  // Loops and one string rather than map/filter/join: every appended event is hashed (and hashed
  // again by the checkpoints), so this is on the write path. The output is the same, byte for byte.
  if (Array.isArray(value)) {
    let out = '[';
    for (let i = 0; i < value.length; i++) {
      if (i > 0) out += ',';
      // A hole stays empty, as map-and-join wrote it (JSON never makes one).
      if (!(i in value)) continue;
      const item: unknown = value[i];
      out += item === undefined || typeof item === 'function' ? 'null' : canonicalJson(item);
    }
    return out + ']';
  }
  const record = value as Record<string, unknown>;
  const keys = Object.keys(record).sort();
  let out = '{';
  for (const key of keys) {
    const item = record[key];
    if (item === undefined || typeof item === 'function') continue;
    if (out.length > 1) out += ',';
    out += JSON.stringify(key) + ':' + canonicalJson(item);
  }
  return out + '}';
}
