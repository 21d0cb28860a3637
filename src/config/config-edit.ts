import {
  isMap,
  isScalar,
  isSeq,
  parseDocument,
  stringify,
  type Document,
  type Pair,
  type ParsedNode,
  type YAMLMap,
} from 'yaml';
import type { StreamConfig } from '../streams/stream-options.js';

type Entry = [key: string, value: unknown];
interface Edit {
  start: number;
  end: number;
  text: string;
}

/** The layout is one the line splicer does not handle; the caller falls back to re-serializing. */
class UnsupportedLayout extends Error {}

/**
 * The name a mapping key stands for. A plain key reads as written (`1.50:` is "1.50", not 1.5), so a
 * stream is named by what the user typed; a quoted key is its string.
 */
export function keyName(key: unknown, text: string): string | null {
  if (!isScalar(key)) return null;
  if (key.type === 'PLAIN' && key.range) return text.slice(key.range[0], key.range[1]);
  return key.value === null ? null : String(key.value);
}

/** A value as one line of YAML: never a block scalar or a folded line, which would need indentation. */
export function formatValue(v: unknown): string {
  const text = stringify(v, { lineWidth: 0, blockQuote: false, collectionStyle: 'flow' }).trimEnd();
  // A line break in a string comes out as a multi-line plain scalar; JSON is YAML on one line.
  return text.includes('\n') ? JSON.stringify(v) : text;
}

/** The config's fields in order, without undefined ones (an absent field). */
function entries(config: StreamConfig): Entry[] {
  return Object.entries(config).filter(([, v]) => v !== undefined);
}

/**
 * Returns `text` with stream `name` set to `config` (null removes it) by splicing only that stream's
 * lines, so every other byte (comments, blank lines, quoting, spacing) stays as it was. A replaced
 * stream keeps its key, its position and the comments around it; each field keeps its line and any
 * inline comment; new fields go after its last field; a new stream goes after the last one.
 * Layouts it cannot splice (flow-style `streams`, no top-level mapping) fall back to
 * editStreamDocument. The result is not validated here.
 */
export function editStreamText(text: string, name: string, config: StreamConfig | null): string {
  const doc = parseDocument(text, { prettyErrors: false, logLevel: 'error' });
  if (doc.errors.length > 0) return text;
  try {
    return spliceStream(text, doc, name, config);
  } catch (err) {
    if (err instanceof UnsupportedLayout) return editStreamDocument(text, name, config);
    throw err;
  }
}

/** The same edit through the yaml Document (comments kept, but the file is re-serialized). */
export function editStreamDocument(text: string, name: string, config: StreamConfig | null): string {
  const doc = parseDocument(text, { prettyErrors: false, logLevel: 'error' });
  const root = doc.contents;
  if (!isMap(root)) return text;
  const streams = root.get('streams', true);
  if (config === null) {
    if (isMap(streams)) streams.delete(findPair(streams.items, name, text)?.key ?? name);
  } else {
    const node = doc.createNode(Object.fromEntries(entries(config)));
    const pair = isMap(streams) ? findPair(streams.items, name, text) : undefined;
    if (pair) pair.value = node;
    else if (isMap(streams)) streams.set(name, node);
    else doc.set('streams', doc.createNode({ [name]: Object.fromEntries(entries(config)) }));
  }
  return doc.toString();
}

function findPair<P extends { key: unknown }>(items: P[], name: string, text: string): P | undefined {
  return items.find((p) => keyName(p.key, text) === name);
}

function spliceStream(text: string, doc: Document.Parsed, name: string, config: StreamConfig | null): string {
  const root = doc.contents;
  if (!isMap(root) || root.flow) throw new UnsupportedLayout();
  const streamsPair = findPair(root.items, 'streams', text);
  if (!streamsPair) {
    if (config === null) return text;
    // A last line without its newline would run on into `streams:`.
    const newline = text.length > 0 && !text.endsWith('\n') ? '\n' : '';
    const block = `${newline}streams:\n${renderStream('  ', '  ', name, entries(config))}`;
    return applyEdits(text, [{ start: text.length, end: text.length, text: block }]);
  }
  const streams = streamsPair.value;
  if (!isMap(streams) || streams.flow || streams.items.length === 0) throw new UnsupportedLayout();
  const pair = findPair(streams.items, name, text);
  if (config === null) return pair ? applyEdits(text, [deletePair(text, pair)]) : text;
  const fields = entries(config);
  if (!pair) {
    const first = streams.items[0]!;
    const indent = ' '.repeat(column(text, first.key.range![0]));
    const inner = isMap(first.value) && !first.value.flow ? firstKeyColumn(text, first.value) : null;
    const step = ' '.repeat(inner === null ? 2 : Math.max(1, inner - indent.length));
    return applyEdits(text, [insertAfter(text, streams, renderStream(indent, step, name, fields))]);
  }
  const value = pair.value;
  if (isMap(value) && !value.flow && value.items.length > 0)
    return applyEdits(text, editFields(text, doc, value, fields));
  // A flow mapping, an empty value or a scalar: the new value replaces it in place, on one line.
  const at = value ? value.range[0] : pair.key.range![1] + 1;
  const end = value ? value.range[1] : at;
  const space = /\s/.test(text[at - 1] ?? ' ') ? '' : ' ';
  return applyEdits(text, [{ start: at, end, text: space + formatValue(Object.fromEntries(fields)) }]);
}

/** Edits a block mapping's fields in place: changed values, removed lines, new lines after the last. */
function editFields(text: string, doc: Document.Parsed, map: YAMLMap.Parsed, fields: Entry[]): Edit[] {
  const want = new Map(fields);
  const edits: Edit[] = [];
  const indent = ' '.repeat(firstKeyColumn(text, map) ?? 0);
  for (const item of map.items) {
    const key = keyName(item.key, text);
    const node = item.value;
    if (key === null || !want.has(key) || !node) {
      edits.push(deletePair(text, item));
      continue;
    }
    const v = want.get(key);
    want.delete(key);
    if (JSON.stringify(node.toJS(doc)) === JSON.stringify(v)) continue;
    const space = node.range[0] === node.range[1] && !/\s/.test(text[node.range[0] - 1] ?? ' ') ? ' ' : '';
    edits.push({ start: node.range[0], end: node.range[1], text: space + formatValue(v) });
  }
  const added = [...want].map(([k, v]) => `${indent}${formatValue(k)}: ${formatValue(v)}\n`).join('');
  if (added) edits.push(insertAfter(text, map, added));
  return edits;
}

function renderStream(indent: string, step: string, name: string, fields: Entry[]): string {
  if (fields.length === 0) return `${indent}${formatValue(name)}: {}\n`;
  const lines = fields.map(([k, v]) => `${indent}${step}${formatValue(k)}: ${formatValue(v)}\n`);
  return `${indent}${formatValue(name)}:\n${lines.join('')}`;
}

/** Removes a pair's whole lines: its key's line through the line its value ends on (inline comment included). */
function deletePair(text: string, pair: Pair<ParsedNode, ParsedNode | null>): Edit {
  const keyStart = pair.key.range![0];
  const start = lineStart(text, keyStart);
  if (text.slice(start, keyStart).trim() !== '') throw new UnsupportedLayout();
  return { start, end: lineEnd(text, contentEnd(pair.value ?? pair.key)), text: '' };
}

/** Inserts whole lines after the line a block collection's content ends on. */
function insertAfter(text: string, node: ParsedNode, lines: string): Edit {
  const at = lineEnd(text, contentEnd(node));
  const newline = at === text.length && text.length > 0 && !text.endsWith('\n') ? '\n' : '';
  return { start: at, end: at, text: newline + lines };
}

/**
 * Where a node's content ends. A block collection's own range runs on to the next item (trailing
 * comment lines and the next line's indentation), so its last item's end is used instead.
 */
function contentEnd(node: ParsedNode): number {
  if ((isMap(node) || isSeq(node)) && !node.flow && node.items.length > 0) {
    const last = node.items[node.items.length - 1]!;
    if (isMap(node)) {
      const p = last as Pair<ParsedNode, ParsedNode | null>;
      return contentEnd(p.value ?? p.key);
    }
    return contentEnd(last as ParsedNode);
  }
  return node.range[1];
}

function firstKeyColumn(text: string, map: { items: Pair<ParsedNode, ParsedNode | null>[] }): number | null {
  const first = map.items[0];
  return first?.key.range ? column(text, first.key.range[0]) : null;
}

function lineStart(text: string, pos: number): number {
  return text.lastIndexOf('\n', pos - 1) + 1;
}

function lineEnd(text: string, pos: number): number {
  const i = text.indexOf('\n', pos);
  return i < 0 ? text.length : i + 1;
}

function column(text: string, pos: number): number {
  return pos - lineStart(text, pos);
}

function applyEdits(text: string, edits: Edit[]): string {
  // From the end backwards, so the offsets of the edits still to apply stay valid (edits never overlap).
  const sorted = [...edits].sort((a, b) => b.start - a.start);
  let out = text;
  for (const e of sorted) out = out.slice(0, e.start) + e.text + out.slice(e.end);
  return out;
}
