// Text ⇄ typed value for tunables, shared by flags, env variables and config lines so that all
// three accept exactly the same spellings.
import type { TunableSpec } from './tunables.js';

export type TypedValue = string | number | boolean;
export type ParsedValue = { readonly value: TypedValue } | { readonly problem: string };

const trueWords = new Set(['true', 'yes', 'on', '1']);
const falseWords = new Set(['false', 'no', 'off', '0']);
const durationUnits: Record<string, number> = { '': 1, ms: 0.001, s: 1, m: 60, h: 3600 };

/** Parse `raw` for `spec`; `true` stands for a bare boolean flag. */
export function parseTunableValue(spec: TunableSpec, raw: string | boolean): ParsedValue {
  if (typeof raw === 'boolean') {
    return spec.type === 'bool' ? { value: raw } : { problem: 'a value is required' };
  }
  const text = raw.trim();
  switch (spec.type) {
    case 'bool': {
      const word = text.toLowerCase();
      if (trueWords.has(word)) return { value: true };
      if (falseWords.has(word)) return { value: false };
      return { problem: `expected true or false, got '${raw}'` };
    }
    case 'int':
      return /^[+-]?\d+$/.test(text) && Number.isSafeInteger(Number(text))
        ? inRange(spec, Number(text), `'${raw}'`)
        : { problem: `expected an integer${rangeWords(spec)}, got '${raw}'` };
    case 'float':
      return /^[+-]?(\d+\.?\d*|\.\d+)(e[+-]?\d+)?$/i.test(text)
        ? inRange(spec, Number(text), `'${raw}'`)
        : { problem: `expected a number${rangeWords(spec)}, got '${raw}'` };
    case 'duration-seconds': {
      const m = /^(\d+\.?\d*|\.\d+)\s*(ms|s|m|h)?$/i.exec(text);
      if (m === null) return { problem: `expected seconds (e.g. 30, 0.5, 500ms, 2m)${rangeWords(spec)}, got '${raw}'` };
      const seconds = Number(m[1]) * (durationUnits[(m[2] ?? '').toLowerCase()] ?? 1);
      return inRange(spec, seconds, `'${raw}'`);
    }
    case 'enum': {
      const choices = spec.choices ?? [];
      const choice = choices.find((c) => c.toLowerCase() === text.toLowerCase());
      return choice === undefined ? { problem: `expected one of ${choices.join(', ')}, got '${raw}'` } : { value: choice };
    }
    case 'string': {
      const pattern = spec.pattern;
      if (pattern !== undefined && !pattern.rx.test(raw)) return { problem: `expected ${pattern.expected}, got '${raw}'` };
      return { value: raw };
    }
  }
}

function inRange(spec: TunableSpec, n: number, shown: string): ParsedValue {
  const { min, max } = spec;
  if ((min !== undefined && n < min) || (max !== undefined && n > max)) {
    return { problem: `expected ${article(describeType(spec))}, got ${shown}` };
  }
  return { value: n };
}

function article(words: string): string {
  return /^[aeiou]/.test(words) ? `an ${words}` : words;
}

function rangeWords(spec: TunableSpec): string {
  const { min, max } = spec;
  if (min !== undefined && max !== undefined) return ` from ${min} to ${max}`;
  if (min !== undefined) return ` >= ${min}`;
  if (max !== undefined) return ` <= ${max}`;
  return '';
}

/** The config-file spelling of a value (what --config-get prints and --config-set writes). */
export function formatValue(value: TypedValue): string {
  return String(value);
}

/** Range and choices in words, for --help and the docs. */
export function describeType(spec: TunableSpec): string {
  switch (spec.type) {
    case 'enum': return (spec.choices ?? []).join('|');
    case 'duration-seconds': return `seconds${rangeWords(spec)}`;
    case 'int': return `integer${rangeWords(spec)}`;
    case 'float': return `number${rangeWords(spec)}`;
    default: return spec.type;
  }
}
