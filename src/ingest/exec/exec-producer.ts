import type { SourceDescription } from '../../hub/producer.js';
import { IngestProducer, type IngestSettings } from '../publish/ingest-producer.js';
import type { PublisherSlot } from '../publish/publisher-slot.js';
import type { ExecRunner } from './exec-runner.js';

/**
 * The producer of an `exec:` stream for one transmission: a publisher stream's (frames from its
 * publisher slot, NO SIGNAL without one) whose start runs the stream's command and whose stop ends
 * it. The hub starts a transmission with the first viewer and stops it after the last, so the
 * command runs exactly while someone watches (or records).
 */
export class ExecProducer extends IngestProducer {
  readonly #runner: ExecRunner;

  constructor(slot: PublisherSlot, settings: IngestSettings, runner: ExecRunner) {
    super(slot, settings);
    this.#runner = runner;
  }

  override describe(): SourceDescription {
    const d = super.describe();
    const pid = this.#runner.pid;
    return { ...d, kind: 'exec', name: `exec command${pid === null ? '' : ` (pid ${pid})`}: ${d.name}` };
  }

  override start(): void {
    super.start();
    this.#runner.start();
  }

  override stop(): void {
    super.stop();
    this.#runner.stop();
  }
}
