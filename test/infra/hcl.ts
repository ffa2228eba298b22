/**
 * Reads the Terraform under infra/ with @cdktf/hcl2json (HCL -> JSON, the same
 * shape as Terraform's JSON syntax), so tests can assert properties of the code
 * without a Google provider. Expressions come back as "${...}" strings; comments are
 * only in `text`.
 */
import hcl2json from '@cdktf/hcl2json';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ROOT } from '../helpers.js';

export type Block = Record<string, unknown>;

export interface Config {
  /** Directory relative to the repository root, e.g. infra/modules/ingest. */
  dir: string;
  /** type => name => block (each block is the first of its list). */
  resources: Record<string, Record<string, Block>>;
  variables: Record<string, Block>;
  outputs: Record<string, Block>;
  locals: Block;
  modules: Record<string, Block>;
  terraform: Block[];
  /** All .tf files concatenated, comments included. */
  text: string;
  /** file name => its text. */
  files: Record<string, string>;
}

export const INFRA = join(ROOT, 'infra');

export async function loadConfig(dir: string): Promise<Config> {
  const abs = join(ROOT, dir);
  const cfg: Config = { dir, resources: {}, variables: {}, outputs: {}, locals: {}, modules: {}, terraform: [], text: '', files: {} };
  for (const f of (await readdir(abs)).filter((n) => n.endsWith('.tf')).sort()) {
    const text = await readFile(join(abs, f), 'utf8');
    cfg.files[f] = text;
    cfg.text += `${text}\n`;
    const json = (await hcl2json.parse(f, text)) as Record<string, any>;
    for (const [type, byName] of Object.entries<Record<string, Block[]>>(json.resource ?? {})) {
      cfg.resources[type] ??= {};
      for (const [name, blocks] of Object.entries(byName)) cfg.resources[type][name] = blocks[0]!;
    }
    for (const [name, blocks] of Object.entries<Block[]>(json.variable ?? {})) cfg.variables[name] = blocks[0]!;
    for (const [name, blocks] of Object.entries<Block[]>(json.output ?? {})) cfg.outputs[name] = blocks[0]!;
    for (const [name, blocks] of Object.entries<Block[]>(json.module ?? {})) cfg.modules[name] = blocks[0]!;
    for (const l of (json.locals ?? []) as Block[]) Object.assign(cfg.locals, l);
    cfg.terraform.push(...((json.terraform ?? []) as Block[]));
  }
  return cfg;
}

/** Every module under infra/modules and every environment under infra/environments. */
export async function loadAll(): Promise<Config[]> {
  const out: Config[] = [];
  for (const kind of ['modules', 'environments']) {
    for (const d of (await readdir(join(INFRA, kind), { withFileTypes: true })).filter((e) => e.isDirectory())) {
      out.push(await loadConfig(join('infra', kind, d.name)));
    }
  }
  return out;
}

/** The first nested block `name` of a block (HCL blocks are lists in the JSON form). */
export function block(b: Block | undefined, name: string): Block | undefined {
  const v = b?.[name];
  return Array.isArray(v) ? (v[0] as Block) : undefined;
}

/** All resources of one type across configs, with where they are. */
export function resourcesOf(configs: Config[], type: string): { dir: string; name: string; body: Block }[] {
  return configs.flatMap((c) => Object.entries(c.resources[type] ?? {}).map(([name, body]) => ({ dir: c.dir, name, body })));
}

/** The comment lines immediately above `resource "<type>" "<name>"` in the source. */
export function commentAbove(cfg: Config, type: string, name: string): string {
  for (const text of Object.values(cfg.files)) {
    const lines = text.split('\n');
    const i = lines.findIndex((l) => l.startsWith(`resource "${type}" "${name}"`));
    if (i < 0) continue;
    const out: string[] = [];
    for (let j = i - 1; j >= 0 && lines[j]!.trim().startsWith('#'); j--) out.unshift(lines[j]!);
    return out.join('\n');
  }
  return '';
}
