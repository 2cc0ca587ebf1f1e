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
  if (Array.isArray(value)) return '[' + value.map((v) => (v === undefined || typeof v === 'function' ? 'null' : canonicalJson(v))).join(',') + ']';
  const record = value as Record<string, unknown>;
  const keys = Object.keys(record)
    .filter((k) => record[k] !== undefined && typeof record[k] !== 'function')
    .sort();
  return '{' + keys.map((k) => JSON.stringify(k) + ':' + canonicalJson(record[k])).join(',') + '}';
}
