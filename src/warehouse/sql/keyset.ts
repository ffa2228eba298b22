/**
 * The time range and the keyset position of a page, shared by every dialect: `publish_time` in
 * [from, to), then strictly after (or before) the last row of the previous page in
 * (publish_time, message_id) order.
 */
import type { Keyset } from '../../core/ports.js';

/** How a dialect binds the two kinds of value a range and a keyset need. */
export interface KeysetBinder {
  /** A TIMESTAMP parameter of epoch microseconds; `name` for dialects with named parameters. */
  time(name: string, micros: bigint): string;
  /** A STRING parameter. */
  text(name: string, value: string): string;
}

/** The WHERE terms of a range and a keyset. */
export function timeAndKeyset(
  from: bigint | undefined,
  to: bigint | undefined,
  after: Keyset | undefined,
  order: 'asc' | 'desc',
  b: KeysetBinder,
): string[] {
  const where: string[] = [];
  if (from !== undefined) where.push(`publish_time >= ${b.time('range_from', from)}`);
  if (to !== undefined) where.push(`publish_time < ${b.time('range_to', to)}`);
  if (after) {
    const t = b.time('after_t', after.publishTime);
    const id = b.text('after_id', after.messageId);
    const cmp = order === 'asc' ? '>' : '<';
    // The first term lets the engine prune (zone maps, partitions); the second is the exact
    // keyset condition.
    where.push(`publish_time ${cmp}= ${t} AND (publish_time ${cmp} ${t} OR message_id ${cmp} ${id})`);
  }
  return where;
}

/** `ORDER BY publish_time, message_id` in one direction. */
export function keysetOrder(order: 'asc' | 'desc'): string {
  const dir = order === 'asc' ? 'ASC' : 'DESC';
  return `ORDER BY publish_time ${dir}, message_id ${dir}`;
}
