import type { AuthSettings } from '../access/auth-settings.js';
import type { BusOptions } from './bus-settings.js';
import type { HookConfig } from '../hooks/hook-spec.js';
import type { ResolvedStreamConfig, StreamConfig } from '../streams/stream-options.js';

/** Server-wide settings from a config file; an absent key is undefined (serve's default applies). */
export interface ServerFileSettings {
  host?: string;
  port?: number;
  /** null: `httpPort: off`. */
  httpPort?: number | null;
  token?: string | null;
  /** Needed for API writes (PUT/DELETE /api/streams/NAME). */
  adminToken?: string | null;
  allowLegacy?: boolean;
  allowOrigin?: string | null;
  maxClientsPerIp?: number;
  /** From `stallTimeout` (seconds, as the CLI's --stall-timeout). */
  stallTimeoutMs?: number;
  /** Absolute paths, resolved against the config file's directory; the files are not read here. */
  tls?: { certPath: string; keyPath: string } | null;
  /** Directories file sources may come from, absolute (resolved against the file's directory). */
  sourcePaths?: string[];
  /** Bytes of every stream's recordings together (a number, or e.g. `50GB`). */
  recordMaxBytes?: number | null;
  /** The `auth:` section: users, anonymous, JWT, the HTTP hook, signed links (null: tokens only). */
  auth?: AuthSettings | null;
}

/** Every stream setting but `source`, applied under each stream's own. */
export type StreamDefaults = Omit<StreamConfig, 'source'>;

/** A validated config file. */
export interface LoadedConfig {
  /** The file's absolute path. */
  path: string;
  server: ServerFileSettings;
  /** The `bus:` section, file paths made absolute and checked readable; null without one. */
  bus: BusOptions | null;
  /** The `hooks:` section as written, each hook checked; [] without one. */
  hooks: HookConfig[];
  streamDefaults: StreamDefaults;
  /** In file order, defaults applied: streamDefaults, then the built-in ones. */
  streams: ResolvedStreamConfig[];
  /** The first stream in the file: the one a client gets when it names none ('' in an edge's file without streams). */
  defaultStream: string;
  /** Each stream's settings as written (without defaults), e.g. for the API to show or edit. */
  raw: { streams: Record<string, StreamConfig> };
}
