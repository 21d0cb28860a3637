import { encoderImplementation, FramePipeline } from '../encode/frame-pipeline.js';
import type { RawTap } from '../encode/held-planes.js';
import { encoderPool } from '../encode/encoder-pool.js';
import { ResilientProducer } from '../encode/resilient-producer.js';
import { Hub } from '../hub/hub.js';
import type { FrameProducer } from '../hub/producer.js';
import { locateFfmpeg, type FfmpegLocation } from '../source/ffmpeg-path.js';
import { probeSource } from '../source/probe.js';
import {
  execCommand,
  parseSource,
  TEST_PATTERN,
  type SourcePolicy,
  type SourceSpec,
} from '../source/source-spec.js';
import { takesPublishers, type ResolvedStreamConfig } from './stream-options.js';
import { FramecastError } from '../errors.js';
import { PublisherSlot } from '../ingest/publish/publisher-slot.js';
import { IngestProducer } from '../ingest/publish/ingest-producer.js';
import { ExecProducer } from '../ingest/exec/exec-producer.js';
import { ExecRunner, type ExecTimings } from '../ingest/exec/exec-runner.js';
import { ImageBound } from '../util/jpeg.js';
import type { TokenCheck } from '../util/token.js';
import { Renditions } from './renditions.js';

/**
 * One named stream: its settings, its source and its hub. Everything a transport needs to serve it
 * is asked of the stream (its hub, whether it is lossless, its read token, whether it has room), so
 * settings are resolved once, here, and never copied into each transport.
 */
export class Stream {
  readonly name: string;
  #config: ResolvedStreamConfig;
  readonly hub: Hub;
  /** The parsed source, or null when frames come from a program (publisher). */
  readonly spec: SourceSpec | null;
  /** The ffmpeg in use, or null when frames come from a program. */
  readonly ffmpeg: FfmpegLocation | null;
  /** What encodes this stream's JPEGs, for /stats. */
  readonly encoderImplementation: string;
  /** Where a remote publisher feeds the stream (source `publisher`), else null. */
  readonly ingest: PublisherSlot | null;
  /** The command of an `exec:` stream (it publishes into `ingest` while the stream is watched), else null. */
  readonly exec: ExecRunner | null;
  /** The stream's image-size bound (maxImagePixels) and the images it refused, for /stats. */
  readonly images: ImageBound;
  /** Other sizes and qualities viewers ask for, each made once per frame. */
  readonly renditions: Renditions;

  /** @internal use openStream() */
  constructor(
    config: ResolvedStreamConfig,
    createProducer: () => FrameProducer,
    source: {
      spec: SourceSpec | null;
      ffmpeg: FfmpegLocation | null;
      implementation: string;
      ingest?: PublisherSlot | null;
      images?: ImageBound;
      exec?: ExecRunner | null;
    },
  ) {
    this.name = config.name;
    this.#config = config;
    this.spec = source.spec;
    this.ffmpeg = source.ffmpeg;
    this.encoderImplementation = source.implementation;
    this.ingest = source.ingest ?? null;
    this.exec = source.exec ?? null;
    this.images = source.images ?? new ImageBound(config.maxImagePixels);
    this.hub = new Hub({
      createProducer,
      maxClients: config.maxClients,
      maxWaiting: config.maxWaiting,
      lossless: !config.pace,
      preload: config.preload,
      maxMetaBytes: config.maxMetaBytes,
      // A file plays from its start for the first client, even though it started during the hello grace.
      holdFirstFrames: !config.pace || source.spec?.finite === true,
    });
    this.renditions = new Renditions(this.hub, {
      quality: config.quality,
      max: config.maxRenditions,
      maxPixels: config.maxImagePixels,
      maxClients: config.maxClients,
    });
  }

  /** The stream's settings. */
  get config(): ResolvedStreamConfig {
    return this.#config;
  }

  /**
   * Takes new settings that differ in recording only (`sameButRecording`): the source, the hub and
   * the viewers go on untouched. The registry's `retune()` calls it.
   */
  retune(config: ResolvedStreamConfig): void {
    if (config.name !== this.name)
      throw new TypeError(`retune of ${this.name} with ${config.name}'s settings`);
    this.#config = config;
  }

  /** --no-pace: frames are queued per client, never replaced. */
  get lossless(): boolean {
    return !this.config.pace;
  }

  /** The token an analyzer presents to annotate (and watch) this stream, or null. */
  get annotateToken(): string | null {
    return this.config.annotateToken;
  }

  /** The token a remote publisher presents, or null. */
  get publishToken(): string | null {
    return this.config.publishToken;
  }

  /**
   * This stream's own token (a viewer with it may watch this stream only), or null; on an edge, the
   * origin's token as its salted digest.
   */
  get readToken(): TokenCheck | null {
    return this.config.readToken ?? this.config.readTokenDigest ?? null;
  }

  /** True while the hub can serve or queue another client. */
  hasRoom(): boolean {
    return this.hub.cappedCount < this.config.maxClients || this.hub.waitingCount < this.config.maxWaiting;
  }

  /** Clients the hub can still take (served or waiting). */
  room(): number {
    return this.config.maxClients + this.config.maxWaiting - this.hub.cappedCount - this.hub.waitingCount;
  }

  /** Ends every client and stops the source (`removed`: the server goes on without it). Idempotent. */
  close(reason: 'shutdown' | 'removed' = 'shutdown'): void {
    this.ingest?.close();
    this.exec?.close();
    this.renditions.close(reason);
    this.hub.close(reason);
  }
}

/**
 * Opens a stream: checks its source (a missing or non-video file fails here, before any client), and
 * builds the producer its hub starts on demand. `producer` replaces the source (frames a program publishes).
 */
export async function openStream(
  config: ResolvedStreamConfig,
  producer?: () => FrameProducer,
  policy: SourcePolicy = { paths: null },
  exec: ExecContext = {},
): Promise<Stream> {
  if (producer)
    return new Stream(config, producer, {
      spec: null,
      ffmpeg: null,
      implementation: 'frames from the publisher',
    });
  if (takesPublishers(config.source)) {
    // Push ingest: the JPEGs a remote publisher sends go to viewers as they came (passthrough).
    const images = new ImageBound(config.maxImagePixels);
    const slot = new PublisherSlot(config.overridePublisher, images);
    const command = execCommand(config.source);
    // exec: the publisher is a command, run while the hub transmits (someone watches or records).
    const runner =
      command === null ? null : new ExecRunner(command, () => exec.env?.(config) ?? {}, exec.timings);
    return new Stream(
      config,
      runner ? () => new ExecProducer(slot, config, runner) : () => new IngestProducer(slot, config),
      {
        spec: null,
        ffmpeg: null,
        implementation: runner ? 'passthrough (from its command)' : 'passthrough',
        ingest: slot,
        images,
        exec: runner,
      },
    );
  }
  const images = new ImageBound(config.maxImagePixels);
  const local = await sourceProducer(config, () => stream.hub.clientCount, images, policy, {
    // The stream is made after its producer factory: its renditions are read when a frame comes.
    wanted: () => stream.renditions.rawTap.wanted(),
    arrive: (raw) => stream.renditions.rawTap.arrive(raw),
  });
  const stream: Stream = new Stream(config, local.create, {
    spec: local.spec,
    ffmpeg: local.ffmpeg,
    implementation: config.passthrough ? 'passthrough' : encoderImplementation(config.encoder),
    images,
  });
  return stream;
}

/** What an `exec:` stream's command is given: its environment (read when it starts), its timings. */
export interface ExecContext {
  /** FRAMECAST_PUBLISH_URL, FRAMECAST_TOKEN...: known only once the server listens (null before). */
  env?: (config: ResolvedStreamConfig) => Readonly<Record<string, string>> | null;
  timings?: ExecTimings;
}

/** A source read through ffmpeg and encoded here, as a factory of producers (one per run). */
export interface SourceProducer {
  create: () => FrameProducer;
  spec: SourceSpec;
  ffmpeg: FfmpegLocation;
}

/**
 * Checks a source (a missing or non-video file fails here) and builds the producer that reads it:
 * ffmpeg decodes and scales, frames are encoded at the config's settings; cameras and live URLs come
 * back after a failure. `audience` tells the encoder how many viewers wait (Huffman tables);
 * `images` bounds (and counts) a passthrough source's JPEGs; `rawTap` takes each frame's raw planes
 * for the stream's renditions while they run.
 */
export async function sourceProducer(
  config: Omit<ResolvedStreamConfig, 'name'>,
  audience: () => number = () => 0,
  images: ImageBound = new ImageBound(config.maxImagePixels),
  policy: SourcePolicy = { paths: null },
  rawTap?: RawTap,
): Promise<SourceProducer> {
  let spec = parseSource(config.source, policy);
  const ffmpeg = locateFfmpeg();
  let inputFps: number | null = spec.kind === 'test' ? TEST_PATTERN.fps : null;
  if (spec.kind === 'file' || (spec.kind === 'url' && !spec.live)) {
    const probe = await probeSource(ffmpeg.path, spec);
    inputFps = probe.fps;
    if (config.passthrough && probe.codec !== 'mjpeg')
      throw new FramecastError(
        'ERR_SOURCE_INVALID',
        `passthrough needs a source whose frames are JPEG (MJPEG); ${spec.name} is ${probe.codec}`,
        { exitCode: 2 },
      );
    // An HTTP URL without a duration is a camera's stream: live (no pacing, which would only add
    // lag), and its end is a lost signal, not the end of a file.
    if (spec.kind === 'url' && probe.endless) spec = { ...spec, live: true, finite: false };
  }
  const source = spec;
  const pipeline = (): FrameProducer =>
    new FramePipeline({
      ffmpeg: ffmpeg.path,
      spec: source,
      width: config.width,
      quality: config.quality,
      encoder: config.encoder,
      pace: config.pace,
      loop: config.loop,
      fps: config.fps,
      passthrough: config.passthrough,
      images,
      // Encodes in flight for this stream (bounding its read-ahead); all streams share the pool.
      concurrency: encoderPool.size,
      inputFps,
      audience,
      ...(rawTap ? { rawTap } : {}),
    });
  let create = pipeline;
  // Cameras and URLs come back after a failure; files and the test pattern do not.
  if (config.retryDelayMs > 0 && (source.kind === 'device' || source.kind === 'url')) {
    create = () =>
      new ResilientProducer({
        create: pipeline,
        retryDelayMs: config.retryDelayMs,
        retryOnEnd: source.live,
        noSignalWidth: config.width,
        maxImagePixels: config.maxImagePixels,
        quality: config.quality,
      });
  }
  return { create, spec: source, ffmpeg };
}
