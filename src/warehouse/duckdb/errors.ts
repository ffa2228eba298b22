/** DuckDB's failures as {@link WarehouseError}s: transient unless the data itself was refused. */
import { WarehouseError } from '../../core/ports.js';

/** DuckDB error classes that depend on the data, not on the engine's state. */
const PERMANENT = /^(Conversion|Invalid Input|Out of Range|Constraint) Error/;

export function classify(err: unknown, what: string): WarehouseError {
  const message = err instanceof Error ? err.message : String(err);
  return new WarehouseError(`DuckDB ${what} failed: ${message}`, !PERMANENT.test(message), { cause: err });
}

/** A database file that cannot be opened: in use by another process, or otherwise. */
export function openError(path: string, err: unknown): WarehouseError {
  const message = (err as Error).message;
  if (/lock/i.test(message)) {
    return new WarehouseError(`the database ${path} is in use by another process (DuckDB allows one writer process); stop it or choose another --data-dir. ${message}`, true, { cause: err });
  }
  return new WarehouseError(`cannot open DuckDB database ${path}: ${message}`, true, { cause: err });
}

