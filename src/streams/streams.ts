import { SafeEmitter } from '../util/safe-emitter.js';
import type { Stream } from './stream.js';
import type { ResolvedStreamConfig } from './stream-options.js';

/** Events of the stream registry. */
export interface StreamRegistryEvents {
  added: [stream: Stream];
  removed: [stream: Stream];
  /** A stream's recording settings changed (the stream itself goes on). */
  retuned: [stream: Stream];
}

/**
 * The streams a server serves, by name, in the order they were added. The first is the default
 * stream: seed clients on the main port and the un-prefixed HTTP paths serve it. Transports look a
 * stream up when a client asks for it, so streams can come and go while the server runs.
 */
export class StreamRegistry extends SafeEmitter<StreamRegistryEvents> {
  readonly #streams = new Map<string, Stream>();

  /** The default stream (the first one added), or null when there is none. */
  get default(): Stream | null {
    for (const s of this.#streams.values()) return s;
    return null;
  }

  /** How many streams there are. */
  get size(): number {
    return this.#streams.size;
  }

  /** The stream called `name`; null (or undefined name) gives the default stream. */
  get(name: string | null | undefined): Stream | null {
    if (name === null || name === undefined) return this.default;
    return this.#streams.get(name) ?? null;
  }

  /** Every stream, default first. */
  list(): Stream[] {
    return [...this.#streams.values()];
  }

  /** Adds a stream; a name already in use is a TypeError (remove it first). */
  add(stream: Stream): void {
    if (this.#streams.has(stream.name)) throw new TypeError(`stream ${stream.name} already exists`);
    this.#streams.set(stream.name, stream);
    this.emit('added', stream);
  }

  /**
   * Puts `stream` in place of the stream of the same name (keeping its position, so the default
   * stream stays the default) and closes the old one (its clients get END).
   */
  replace(stream: Stream): void {
    const old = this.#streams.get(stream.name);
    if (!old) return this.add(stream);
    this.#streams.set(stream.name, stream);
    old.close('removed');
    this.emit('removed', old);
    this.emit('added', stream);
  }

  /** Gives a stream new recording settings (`Stream.retune`) and tells the listeners. */
  retune(config: ResolvedStreamConfig): void {
    const stream = this.#streams.get(config.name);
    if (!stream) return;
    stream.retune(config);
    this.emit('retuned', stream);
  }

  /** Removes a stream and closes it (its clients get END); false when there was none. */
  remove(name: string): boolean {
    const stream = this.#streams.get(name);
    if (!stream) return false;
    this.#streams.delete(name);
    stream.close('removed');
    this.emit('removed', stream);
    return true;
  }

  /** Closes every stream. */
  close(): void {
    for (const s of this.#streams.values()) s.close();
  }
}
