// The data-key store port: one key per subject (a person, an address, a day of client origins),
// kept apart from the log and truly deletable. Keys are stored wrapped under the server secret;
// this port only ever sees wrapped bytes.

export interface WrappedKey {
  subject: string;
  /** Random id, part of every sealed value, so a key made again never opens older data. */
  keyId: string;
  /** The data key sealed under the key-encryption key (iv || ciphertext || tag). */
  wrapped: Buffer;
}

export interface DataKeyStore {
  /** The subject's key, or undefined when it never existed or was erased. */
  get(subject: string): Promise<WrappedKey | undefined>;
  /** Stores `candidate` unless the subject has a key already; answers the key that holds. */
  putIfAbsent(candidate: WrappedKey): Promise<WrappedKey>;
  /** Replaces a key's wrapping (the same key, wrapped under a newer secret); nothing if it is gone. */
  rewrap(key: WrappedKey): Promise<void>;
  /** Deletes the subjects' keys for good; answers those that existed. */
  erase(subjects: readonly string[]): Promise<string[]>;
  /** Subjects starting with `prefix` whose name sorts before `before` (for origin days). */
  listBefore(prefix: string, before: string): Promise<string[]>;
  /**
   * Every key held, in no promised order, lazily: `authlog secret status` counts those still
   * wrapped under a previous secret. Erased keys are not listed.
   */
  list(): AsyncIterable<WrappedKey>;
  close(): Promise<void>;
}
