/** A record as the feed hands it to its parties, decoded once per batch. */
export interface FeedRecord {
  readonly offset: number;
  readonly key: string | null;
  /** Null for a tombstone. */
  readonly value: string | null;
  readonly headers: Readonly<Record<string, string>>;
}

/**
 * Something that reads one partition through the shared consumer: a follower (tail), a one-shot reader, or a
 * materialized view. `next` is the next Kafka offset it needs; the feed only hands it a batch that starts at or
 * before `next`, so a party never skips an offset.
 */
export interface Party {
  next: number;
  /** Records with offset >= `next`, in order (all keys); `end` is the offset after the batch. */
  consume(records: readonly FeedRecord[], end: number): void;
  /**
   * False while the party needs nothing from the partition (a view nobody is waiting on): a feed may leave the
   * partition out of its live fetches until {@link Feed.demand}. Absent: always wanted.
   */
  wants?(): boolean;
}
