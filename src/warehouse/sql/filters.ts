/**
 * Filters as SQL, shared by every dialect: the operator table and the shape of each term. The
 * dialect says how a field and an attribute are addressed and how a value is bound.
 */
import type { Filter } from '../../core/ports.js';
import type { FieldDef } from '../../core/schema.js';
import type { StoredValue } from '../../core/validate.js';

/** The field an attribute filter compares as (attributes are strings). */
export const ATTRIBUTE_FIELD: FieldDef = { name: 'attribute', type: 'STRING', mode: 'NULLABLE' };

const CMP = { eq: '=', gt: '>', gte: '>=', lt: '<', lte: '<=' } as const;

/** What a dialect provides to compile filters. */
export interface FilterDialect {
  /** The expression of a field chain (a column or a struct member). */
  fieldExpr(chain: readonly FieldDef[]): string;
  /** The expression of one attribute's value (the name is bound as the dialect needs). */
  attributeExpr(name: string): string;
  /** A bound parameter of a stored value of the leaf field's type. */
  bind(leaf: FieldDef, value: StoredValue): string;
  /** The engine's prefix test, e.g. `starts_with(expr, param)`. */
  startsWith(expr: string, param: string): string;
}

/** One filter as a WHERE term. */
export function filterSql(f: Filter, d: FilterDialect): string {
  const expr = f.attribute !== undefined ? d.attributeExpr(f.attribute) : d.fieldExpr(f.chain);
  const leaf = f.attribute !== undefined ? ATTRIBUTE_FIELD : f.chain[f.chain.length - 1]!;
  switch (f.op) {
    case 'is_null': return `${expr} IS NULL`;
    case 'not_null': return `${expr} IS NOT NULL`;
    case 'prefix': return d.startsWith(expr, d.bind(ATTRIBUTE_FIELD, f.value));
    case 'in': return `${expr} IN (${f.values.map((v) => d.bind(leaf, v)).join(', ')})`;
    default: return `${expr} ${CMP[f.op]} ${d.bind(leaf, f.value)}`;
  }
}
