import { EventEmitter } from 'node:events';

/** Event that reports a listener which threw: the event it was called for, and what it threw. */
export const LISTENER_ERROR = 'listener-error';

type AnyListener = (...args: unknown[]) => unknown;

/** Events whose listener threw, once per emitter and event, when nobody listens for LISTENER_ERROR. */
const warned = new WeakMap<object, Set<string | symbol>>();

/**
 * An EventEmitter whose listeners cannot break the emitter: each listener is called on its own, and
 * one that throws is reported (a 'listener-error' event, else one process warning per event) while
 * the other listeners and the code that emitted go on. Frames are emitted from inside promise
 * callbacks and socket handlers: a user's listener throwing there would otherwise become an
 * unhandled rejection or an uncaught exception and stop delivery for everyone (mediasoup's safeEmit
 * is the model). 'error' keeps Node's rule: with no listener it throws, so a failure is never lost.
 */
export class SafeEmitter<T extends Record<keyof T, unknown[]>> extends EventEmitter<T> {
  override emit<K>(eventName: K | keyof T, ...args: unknown[]): boolean {
    const name = eventName as string | symbol;
    const listeners = (this as EventEmitter).rawListeners(name) as AnyListener[];
    if (listeners.length === 0) {
      if (name === 'error') throw args[0] instanceof Error ? args[0] : new Error(String(args[0]));
      return false;
    }
    for (const listener of listeners) {
      try {
        listener.apply(this, args);
      } catch (err) {
        if (name === LISTENER_ERROR) continue; // never recurse on a broken reporter
        this.#report(name, err);
      }
    }
    return true;
  }

  #report(name: string | symbol, err: unknown): void {
    const self = this as EventEmitter;
    if (self.listenerCount(LISTENER_ERROR) > 0) {
      self.emit(LISTENER_ERROR, String(name), err);
      return;
    }
    let events = warned.get(this);
    if (!events) warned.set(this, (events = new Set()));
    if (events.has(name)) return;
    events.add(name);
    const what = err instanceof Error ? err.message : String(err);
    process.emitWarning(`a '${String(name)}' listener threw: ${what}`, {
      code: 'FRAMECAST_LISTENER_ERROR',
      detail: 'framecast went on; listen for "listener-error" to handle these',
    });
  }
}
