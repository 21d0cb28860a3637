import { Hooks } from '../hooks/hooks.js';
import { resolveHooks, type HookConfig } from '../hooks/hook-spec.js';
import { watchStreamEvents } from '../hooks/stream-events.js';
import type { FramecastServer } from './framecast-server.js';

/** Checks serve()'s hooks before anything opens (RangeError `hooks[0].url: ...`). */
export function checkedHooks(config: readonly HookConfig[] | null | undefined): Hooks {
  try {
    return new Hooks(resolveHooks(config ?? []));
  } catch (err) {
    throw new RangeError((err as Error).message, { cause: err });
  }
}

/**
 * Starts the hooks on a running server: its streams' events (and recordings' segments) fire them,
 * their log lines become the server's `hook` events, and closing the server kills what still runs.
 */
export function startHooks(server: FramecastServer, hooks: Hooks): void {
  // Without hooks nothing listens: a server with many streams (an edge) pays nothing for them.
  if (hooks.size === 0) return;
  const stop = watchStreamEvents(server.streams, hooks, server.recordings);
  hooks.on('log', (line) => server.emit('hook', line));
  hooks.on('listener-error', (e, err) => server.emit('listener-error', e, err));
  server.onClose(() => {
    stop();
    hooks.close();
  });
}
