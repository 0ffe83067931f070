// Shared helpers of the deployment tests (test/unit/deploy): paths, YAML loading, promtool.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import YAML from 'yaml';

export const repo = fileURLToPath(new URL('../../../', import.meta.url));
export const at = (...p: string[]): string => path.join(repo, ...p);
export const read = (...p: string[]): string => fs.readFileSync(at(...p), 'utf8');

/** All documents of a YAML file, parsed as Kubernetes does (YAML 1.1: 0400 is octal). */
export function yamlDocs(file: string, version: '1.1' | '1.2' = '1.1'): unknown[] {
  return YAML.parseAllDocuments(fs.readFileSync(file, 'utf8'), { version, merge: true }).map((d) => {
    if (d.errors.length > 0) throw new Error(`${file}: ${d.errors[0]!.message}`);
    return d.toJS({ maxAliasCount: 100 }) as unknown;
  }).filter((d) => d !== null && d !== undefined);
}

/** promtool from $PROMTOOL or PATH (Debian package `prometheus`), or null. */
export function promtool(): string | null {
  const candidates = [process.env['PROMTOOL'], 'promtool', '/usr/bin/promtool'].filter((c): c is string => !!c);
  for (const c of candidates) {
    const r = spawnSync(c, ['--version'], { encoding: 'utf8' });
    if (r.status === 0) return c;
  }
  return null;
}

export function run(cmd: string, args: string[], cwd = repo): { code: number; out: string } {
  const r = spawnSync(cmd, args, { cwd, encoding: 'utf8' });
  return { code: r.status ?? -1, out: `${r.stdout ?? ''}${r.stderr ?? ''}${r.error ? String(r.error) : ''}` };
}

/** Metric names documented in docs/metrics.md (histogram series names included). */
export function documentedMetrics(): Set<string> {
  const names = new Set<string>();
  for (const line of read('docs', 'metrics.md').split('\n')) {
    if (!line.startsWith('| `')) continue;
    const cells = line.split('|').slice(1, 3).join('|');
    for (const m of cells.matchAll(/`([a-zA-Z_:][a-zA-Z0-9_:]*)`/g)) names.add(m[1]!);
  }
  return names;
}

const KEYWORDS = new Set(['and', 'or', 'unless', 'bool', 'offset', 'by', 'without', 'on', 'ignoring', 'group_left', 'group_right', 'inf', 'nan', 'Inf', 'NaN']);

/** The metric names a PromQL expression selects (not functions, labels, keywords or durations). */
export function metricNames(expr: string): string[] {
  let e = expr.replace(/"(?:[^"\\]|\\.)*"/g, '""');
  e = e.replace(/\{[^}]*\}/g, ' ').replace(/\[[^\]]*\]/g, ' ');
  e = e.replace(/\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, ' ');
  const out: string[] = [];
  for (const m of e.matchAll(/(?<![0-9.$\w])[a-zA-Z_:][a-zA-Z0-9_:]*/g)) {
    const rest = e.slice(m.index! + m[0].length).trimStart();
    if (rest.startsWith('(') || KEYWORDS.has(m[0])) continue;
    out.push(m[0]);
  }
  return [...new Set(out)];
}
