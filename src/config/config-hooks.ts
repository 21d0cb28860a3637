import { isMap, isSeq } from 'yaml';
import { HOOK_KEYS, HookSpecError, MAX_HOOKS, resolveHook, type HookConfig } from '../hooks/hook-spec.js';
import { describe, type Checker, type Field } from './config-checker.js';

/**
 * The `hooks:` section: a list of hooks, each checked by `resolveHook` (the one check, also serve()'s)
 * and reported at the line of the field at fault. Returned as written: serve() resolves them.
 */
export function hooksOf(c: Checker, f: Field): HookConfig[] {
  if (f.value === null) return [];
  const seq = c.deref(f.node);
  if (!isSeq(seq)) c.fail(f.node, 'hooks', `must be a list of hooks, got ${describe(seq)}`);
  if (seq.items.length > MAX_HOOKS)
    c.fail(f.node, 'hooks', `at most ${MAX_HOOKS} hooks, got ${seq.items.length}`);
  const names = new Set<string>();
  return seq.items.map((item, i) => {
    const node = c.deref(item as Parameters<Checker['deref']>[0]);
    if (!isMap(node))
      c.fail(node ?? f.node, `hooks[${i}]`, `must be a mapping {on, run or url}, got ${describe(node)}`);
    const fields = c.mapping(node, `hooks[${i}]`, HOOK_KEYS, 'hook setting');
    const value = Object.fromEntries(fields.map((x) => [x.key, x.value]));
    try {
      const spec = resolveHook(value, i);
      if (names.has(spec.name)) c.fail(node, `hooks[${i}].name`, `${spec.name} is the name of another hook`);
      names.add(spec.name);
    } catch (err) {
      if (!(err instanceof HookSpecError)) throw err;
      const key = /^hooks\[\d+\]\.(\w+)/.exec(err.field)?.[1];
      const at = fields.find((x) => x.key === key);
      c.fail(at?.node ?? at?.keyNode ?? node, err.field, err.problem);
    }
    return value as unknown as HookConfig;
  });
}
