import { isAlias, isMap, isScalar, type Document, type LineCounter, type ParsedNode } from 'yaml';
import { keyName } from './config-edit.js';
import { ConfigError, segment } from './config-error.js';

/** A node of the parsed file, or null where the file has nothing. */
export type Node = ParsedNode | null;
/** One key of a mapping in the file, with its nodes (for line numbers) and its plain value. */
export interface Field {
  key: string;
  keyNode: ParsedNode;
  node: Node;
  value: unknown;
}

/** Reads nodes of one parsed file and fails with its path and line. */
export class Checker {
  constructor(
    readonly file: string,
    readonly text: string,
    readonly doc: Document.Parsed,
    readonly lc: LineCounter,
  ) {}

  lineAt(offset: number): number {
    return this.lc.linePos(offset).line;
  }

  line(node: Node | undefined): number | null {
    return node?.range ? this.lineAt(node.range[0]) : null;
  }

  fail(node: Node | undefined, field: string, problem: string): never {
    throw new ConfigError(this.file, this.line(node), field, problem);
  }

  /** An alias stands for its anchor's node (whose line messages then give). */
  deref(node: Node): Node {
    return isAlias(node) ? ((node.resolve(this.doc) as ParsedNode | undefined) ?? null) : node;
  }

  /** A mapping's fields in order; a key not in `known` fails at its own line. */
  mapping(node: Node, path: string, known: readonly string[], what: string): Field[] {
    const map = this.deref(node);
    if (!isMap(map)) this.fail(node, path, `must be a mapping, got ${describe(map)}`);
    const prefix = path === '(top level)' ? '' : `${path}.`;
    return map.items.map((pair) => {
      const key = keyName(pair.key, this.text);
      if (key === null) this.fail(pair.key, `${prefix}?`, 'a key must be a plain name');
      if (!known.includes(key))
        this.fail(pair.key, prefix + segment(key), `unknown ${what} (known: ${known.join(', ')})`);
      const value = pair.value === null ? null : pair.value.toJS(this.doc);
      return { key, keyNode: pair.key, node: pair.value, value };
    });
  }
}

/** A value as it may be quoted in a message. */
export function show(v: unknown): string {
  if (typeof v === 'number' && !Number.isFinite(v)) return String(v);
  return JSON.stringify(v) ?? String(v);
}

export function describe(node: Node): string {
  if (node === null) return 'nothing';
  if (isScalar(node)) return node.value === null ? 'nothing' : show(node.value);
  return isMap(node) ? 'a mapping' : 'a list';
}
