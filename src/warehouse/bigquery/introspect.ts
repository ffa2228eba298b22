/**
 * BigQuery's dataset and tables of a stream: created when missing, else read back
 * (`tables.get`) and checked against the definition with the shared schema diff
 * (`../sql/schema-diff.ts`); new NULLABLE or REPEATED columns are added by a schema PATCH.
 */
import type { BigQueryField } from '../../core/export.js';
import type { FieldMode } from '../../core/schema.js';
import { diffColumns } from '../sql/schema-diff.js';
import type { BigQueryApi } from './driver.js';
import { classify, statusOf } from './errors.js';
import { canonicalType } from './types.js';

interface TableResource {
  schema?: { fields?: BigQueryField[] };
}

/** Where the tables live. */
export interface DatasetRef {
  readonly projectId: string;
  readonly dataset: string;
  readonly location?: string;
}

/** Creates the dataset unless it exists. */
export async function ensureDataset(api: BigQueryApi, ref: DatasetRef): Promise<void> {
  const { dataset, projectId, location } = ref;
  try {
    await api.request({ method: 'GET', path: `/datasets/${dataset}` });
    return;
  } catch (err) {
    if (statusOf(err) !== 404) throw classify(err, `reading dataset ${dataset}`);
  }
  try {
    await api.request({ method: 'POST', path: '/datasets', body: { datasetReference: { projectId, datasetId: dataset }, ...(location ? { location } : {}) } });
  } catch (err) {
    if (statusOf(err) !== 409) throw classify(err, `creating dataset ${dataset}`);
  }
}

/**
 * Creates the table (day-partitioned on publish_time, partition filter required, clustered as
 * given), or checks an existing one against the definition and adds its new columns.
 */
export async function ensureTable(api: BigQueryApi, ref: DatasetRef, tableId: string, fields: BigQueryField[], clustering: readonly string[], stream: string): Promise<void> {
  const path = `/datasets/${ref.dataset}/tables/${tableId}`;
  let existing: TableResource | undefined;
  try {
    existing = await api.request<TableResource>({ method: 'GET', path });
  } catch (err) {
    if (statusOf(err) !== 404) throw classify(err, `reading table ${tableId}`);
  }
  if (!existing) {
    const body = {
      tableReference: { projectId: ref.projectId, datasetId: ref.dataset, tableId },
      schema: { fields },
      timePartitioning: { type: 'DAY', field: 'publish_time' },
      requirePartitionFilter: true,
      ...(clustering.length > 0 ? { clustering: { fields: [...clustering] } } : {}),
    };
    try {
      await api.request({ method: 'POST', path: `/datasets/${ref.dataset}/tables`, body });
    } catch (err) {
      if (statusOf(err) !== 409) throw classify(err, `creating table ${tableId}`);
    }
    return;
  }
  const have = new Map((existing.schema?.fields ?? []).map((f) => [f.name, { name: f.name, type: canonicalType(f.type), mode: (f.mode ?? 'NULLABLE') as FieldMode }]));
  const wanted = fields.map((f) => ({ name: f.name, type: canonicalType(f.type), mode: f.mode as FieldMode }));
  const added = diffColumns(stream, tableId, 'BigQuery', wanted, have);
  if (added.length > 0) {
    try {
      await api.request({ method: 'PATCH', path, body: { schema: { fields: [...(existing.schema?.fields ?? []), ...fields.filter((f) => added.includes(f.name))] } } });
    } catch (err) {
      throw classify(err, `adding columns to ${tableId}`);
    }
  }
}
