import { isMap, isSeq, type ParsedNode } from 'yaml';
import { AuthSettingsError, parseAuthSettings, type AuthSettings } from '../access/auth-settings.js';
import type { Checker, Field, Node } from './config-checker.js';

/**
 * The `auth:` section (null or absent: tokens only). The checks live in access/auth-settings.ts;
 * here a problem gets the line of the deepest part of the file its path names.
 */
export function authOf(c: Checker, f: Field, baseDir: string): AuthSettings | null {
  if (f.value === null || f.value === false) return null;
  try {
    return parseAuthSettings(f.value, baseDir);
  } catch (err) {
    if (!(err instanceof AuthSettingsError)) throw err;
    c.fail(nodeAt(c, f.node, err.field) ?? f.keyNode, err.field, err.problem);
  }
}

/** The node a field path (`auth.users.alice.permissions[0].action`) names, as deep as the file goes. */
function nodeAt(c: Checker, root: Node, field: string): Node {
  const parts = field
    .replace(/^auth\.?/, '')
    .split(/\.|\[(\d+)\]/)
    .filter((p) => p !== undefined && p !== '');
  let node: Node = c.deref(root);
  for (const part of parts) {
    let next: Node = null;
    if (isMap(node)) {
      const pair = node.items.find((p) => (p.key as { value?: unknown } | null)?.value === part);
      next = (pair?.value as ParsedNode | null | undefined) ?? (pair?.key as ParsedNode | undefined) ?? null;
    } else if (isSeq(node) && /^\d+$/.test(part)) {
      next = (node.items[Number(part)] as ParsedNode | undefined) ?? null;
    }
    if (next === null) break;
    node = c.deref(next);
  }
  return node;
}
