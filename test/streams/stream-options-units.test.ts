/**
 * stream-options, unit by unit: a stream's name, every default, every range (both ends, and the
 * exact message the code defines), unknown fields, tokens, recording settings, `serve NAME=SOURCE`.
 */
import { describe, expect, it } from 'vitest';
import { resolvedDefaults } from '../helpers/stream-config.js';
import {
  checkStreamName,
  DEFAULT_STREAM,
  PUBLISHER_SOURCE,
  RECORD_FIELDS,
  resolveStreamConfig,
  splitNamedSource,
  STREAM_FIELDS,
  STREAM_NAME,
  StreamConfigError,
  takesPublishers,
  type StreamConfig,
} from '../../src/streams/stream-options.js';

/** The error resolveStreamConfig throws for `config` (fails the test when it throws none). */
function refusal(config: Partial<StreamConfig> & Record<string, unknown>, name = 'cam'): StreamConfigError {
  try {
    resolveStreamConfig(name, { source: 'test', ...config } as StreamConfig);
  } catch (err) {
    expect(err).toBeInstanceOf(StreamConfigError);
    return err as StreamConfigError;
  }
  throw new Error(`accepted ${JSON.stringify(config)}`);
}

const resolve = (config: Partial<StreamConfig>, defaults: Omit<StreamConfig, 'source'> = {}) =>
  resolveStreamConfig('cam', { source: 'test', ...config }, defaults);

describe('constants', () => {
  it('names the publisher source and the default stream', () => {
    expect(PUBLISHER_SOURCE).toBe('publisher');
    expect(DEFAULT_STREAM).toBe('default');
  });

  it('lists the recording fields and every field', () => {
    expect(RECORD_FIELDS).toEqual([
      'record',
      'recordPath',
      'recordSegmentDuration',
      'recordDeleteAfter',
      'recordMaxBytes',
    ]);
    expect(STREAM_FIELDS).toEqual([
      'source',
      'width',
      'quality',
      'encoder',
      'pace',
      'fps',
      'loop',
      'retryDelayMs',
      'maxClients',
      'maxWaiting',
      'preload',
      'legacyPort',
      'readToken',
      'publishToken',
      'annotateToken',
      'maxMetaBytes',
      'overridePublisher',
      'passthrough',
      'maxImagePixels',
      'maxRenditions',
      'record',
      'recordPath',
      'recordSegmentDuration',
      'recordDeleteAfter',
      'recordMaxBytes',
    ]);
  });
});

describe('StreamConfigError', () => {
  it('names its field in the message, its name and its field property', () => {
    const err = new StreamConfigError('width', 'too wide');
    expect(err).toBeInstanceOf(RangeError);
    expect(err.message).toBe('width: too wide');
    expect(err.name).toBe('StreamConfigError');
    expect(err.field).toBe('width');
  });
});

describe('takesPublishers', () => {
  it('is true for publisher and exec:COMMAND only', () => {
    expect(takesPublishers('publisher')).toBe(true);
    expect(takesPublishers('exec:my-cam --out')).toBe(true);
    expect(takesPublishers('test')).toBe(false);
    expect(takesPublishers('publisherx')).toBe(false);
    expect(takesPublishers('clip.mp4')).toBe(false);
  });
});

describe('stream names', () => {
  it('takes 1 to 64 letters, digits, _ . - starting with a letter or digit', () => {
    for (const ok of ['a', 'Z', '0', 'cam_1.hd-2', 'a'.repeat(64)]) {
      expect(STREAM_NAME.test(ok)).toBe(true);
      expect(checkStreamName(ok)).toBe(ok);
    }
  });

  it('refuses anything else with the rule and the value', () => {
    for (const bad of ['', '_a', '.a', '-a', 'a'.repeat(65), 'a b', 'a/b', 'é', 'x\n']) {
      expect(() => checkStreamName(bad)).toThrow(
        new StreamConfigError(
          'name',
          `must be 1-64 letters, digits, '_', '.' or '-', starting with a letter or digit, got ${JSON.stringify(bad)}`,
        ),
      );
    }
    for (const bad of [null, 5, undefined]) {
      const err = (() => {
        try {
          checkStreamName(bad);
        } catch (e) {
          return e as StreamConfigError;
        }
        return null;
      })();
      expect(err).toBeInstanceOf(StreamConfigError);
      expect(err?.field).toBe('name');
      expect(err?.message).toMatch(/^name: must be 1-64 letters/);
    }
  });

  it('is checked by resolveStreamConfig', () => {
    const err = refusal({}, 'bad name');
    expect(err.field).toBe('name');
    expect(err.message).toContain('got "bad name"');
  });
});

describe('resolveStreamConfig: defaults', () => {
  it('fills in every default', () => {
    expect(resolve({})).toEqual(resolvedDefaults('cam', 'test'));
  });

  it('builds every config with the same keys in the same order', () => {
    const all: StreamConfig = {
      recordMaxBytes: 2048,
      recordDeleteAfter: 10,
      recordSegmentDuration: 5,
      recordPath: 'rec',
      record: true,
      maxRenditions: 2,
      maxImagePixels: 1024,
      passthrough: true,
      overridePublisher: true,
      maxMetaBytes: 10,
      annotateToken: 'a',
      publishToken: 'p',
      readToken: 'r',
      legacyPort: 9000,
      preload: true,
      maxWaiting: 1,
      maxClients: 1,
      retryDelayMs: 0,
      loop: true,
      fps: 5,
      pace: false,
      encoder: 'ffmpeg',
      quality: 5,
      width: 0,
      source: 'publisher',
    };
    expect(Object.keys(resolveStreamConfig('cam', all))).toEqual(Object.keys(resolve({})));
  });

  it('takes the given values over the defaults, and the defaults over its own', () => {
    const defaults = { width: 320, quality: 50, pace: false, maxClients: 7 };
    const c = resolve({ width: 640 }, defaults);
    expect(c.width).toBe(640);
    expect(c.quality).toBe(50);
    expect(c.pace).toBe(false);
    expect(c.maxClients).toBe(7);
  });

  it('keeps every given value', () => {
    const given: StreamConfig = {
      source: 'publisher',
      width: 0,
      quality: 5,
      encoder: 'ffmpeg',
      pace: false,
      fps: 2.5,
      loop: true,
      retryDelayMs: 0,
      maxClients: 3,
      maxWaiting: 0,
      preload: true,
      legacyPort: 9000,
      readToken: 'r',
      publishToken: 'p',
      annotateToken: 'a',
      maxMetaBytes: 2,
      overridePublisher: true,
      passthrough: true,
      maxImagePixels: 256,
      maxRenditions: 0,
      record: true,
      recordPath: 'rec',
      recordSegmentDuration: '10m',
      recordDeleteAfter: '7d',
      recordMaxBytes: '2KiB',
    };
    // Every value as given but the recording's durations and size, in seconds and bytes.
    expect(resolveStreamConfig('cam', given)).toEqual({
      name: 'cam',
      ...given,
      recordSegmentDuration: 600,
      recordDeleteAfter: 7 * 86400,
      recordMaxBytes: 2048,
    });
  });
});

describe('resolveStreamConfig: unknown fields and the source', () => {
  it('refuses an unknown field, listing the known ones', () => {
    const err = refusal({ widht: 5 });
    expect(err.field).toBe('widht');
    expect(err.message).toBe(`widht: unknown setting (known: ${STREAM_FIELDS.join(', ')})`);
  });

  it('checks only the config for unknown fields, not the defaults', () => {
    // defaults are the server's own (typed) settings; an unknown field there is ignored
    const c = resolveStreamConfig('cam', { source: 'test' }, { extra: 1 } as Omit<StreamConfig, 'source'>);
    expect(c).not.toHaveProperty('extra');
  });

  it('needs a source: not empty, not blank, a string', () => {
    for (const source of ['', '   ', 5, undefined]) {
      const err = refusal({ source } as Partial<StreamConfig>);
      expect(err.message).toBe('source: a file, URL, webcam, test or publisher is required');
    }
  });

  it('refuses an exec: source without a command, or one too long', () => {
    expect(refusal({ source: 'exec:' }).message).toBe(
      'source: exec: needs a command after it (exec:COMMAND)',
    );
    expect(refusal({ source: 'exec:   ' }).message).toBe(
      'source: exec: needs a command after it (exec:COMMAND)',
    );
    expect(refusal({ source: 'exec:a\0b' }).message).toMatch(/^source: an exec: command must be at most \d+/);
    expect(resolve({ source: 'exec:run-cam' }).source).toBe('exec:run-cam');
  });
});

describe('resolveStreamConfig: integer ranges', () => {
  const ranges: [keyof StreamConfig, number, number][] = [
    ['quality', 1, 100],
    ['retryDelayMs', 0, 3_600_000],
    ['maxClients', 1, 100_000],
    ['maxWaiting', 0, 100_000],
    ['legacyPort', 0, 65535],
    ['maxMetaBytes', 2, 1024 * 1024],
    ['maxImagePixels', 256, 16384 * 16384],
    ['maxRenditions', 0, 16],
  ];
  for (const [field, min, max] of ranges) {
    it(`${field}: from ${min} to ${max}`, () => {
      expect(resolve({ [field]: min })[field as 'quality']).toBe(min);
      expect(resolve({ [field]: max })[field as 'quality']).toBe(max);
      for (const bad of [min - 1, max + 1, min + 0.5, '5', true, Number.NaN]) {
        const err = refusal({ [field]: bad });
        expect(err.field).toBe(field);
        expect(err.message).toBe(
          `${field}: must be an integer from ${min} to ${max}, got ${JSON.stringify(bad)}`,
        );
      }
    });
  }

  it('width: 0, or from 16 to 16384', () => {
    expect(resolve({ width: 0 }).width).toBe(0);
    expect(resolve({ width: 16 }).width).toBe(16);
    expect(resolve({ width: 16384 }).width).toBe(16384);
    for (const bad of [1, 15]) {
      expect(refusal({ width: bad }).message).toBe(`width: must be 0 or from 16 to 16384, got ${bad}`);
    }
    for (const bad of [-1, 16385, 100.5, '800']) {
      expect(refusal({ width: bad } as Partial<StreamConfig>).message).toBe(
        `width: must be an integer from 0 to 16384, got ${JSON.stringify(bad)}`,
      );
    }
  });

  it('legacyPort: null stays null (no port)', () => {
    expect(resolve({ legacyPort: null }).legacyPort).toBeNull();
    expect(resolve({}, { legacyPort: 9001 }).legacyPort).toBe(9001);
  });
});

describe('resolveStreamConfig: fps and encoder', () => {
  it('fps: null, or from 0.1 to 1000', () => {
    expect(resolve({ fps: null }).fps).toBeNull();
    expect(resolve({ fps: 0.1 }).fps).toBe(0.1);
    expect(resolve({ fps: 1000 }).fps).toBe(1000);
    expect(resolve({ fps: 29.97 }).fps).toBe(29.97);
    for (const bad of [0, 0.09, 1000.5, -1, Number.POSITIVE_INFINITY, Number.NaN, '30']) {
      expect(refusal({ fps: bad } as Partial<StreamConfig>).message).toBe(
        `fps: must be from 0.1 to 1000 (or null), got ${JSON.stringify(bad)}`,
      );
    }
  });

  it('encoder: libjpeg or ffmpeg', () => {
    expect(resolve({ encoder: 'ffmpeg' }).encoder).toBe('ffmpeg');
    expect(resolve({ encoder: 'libjpeg' }).encoder).toBe('libjpeg');
    expect(refusal({ encoder: 'sharp' } as unknown as Partial<StreamConfig>).message).toBe(
      'encoder: must be libjpeg or ffmpeg, got "sharp"',
    );
  });
});

describe('resolveStreamConfig: booleans', () => {
  for (const field of ['pace', 'loop', 'preload', 'overridePublisher', 'passthrough', 'record'] as const) {
    it(`${field}: true or false only`, () => {
      expect(resolve({ [field]: true })[field]).toBe(true);
      expect(resolve({ [field]: false })[field]).toBe(false);
      for (const bad of [1, 'true', 0]) {
        const err = refusal({ [field]: bad });
        expect(err.field).toBe(field);
        expect(err.message).toBe(`${field}: must be true or false, got ${JSON.stringify(bad)}`);
      }
    });
  }
});

describe('resolveStreamConfig: tokens', () => {
  for (const field of ['readToken', 'annotateToken'] as const) {
    it(`${field}: a usable string, or null`, () => {
      expect(resolve({ [field]: 'sekret' })[field]).toBe('sekret');
      expect(resolve({ [field]: null })[field]).toBeNull();
      expect(refusal({ [field]: '' }).message).toBe(`${field}: the token is empty`);
      expect(refusal({ [field]: 'a\u0001b' }).message).toBe(
        `${field}: the token contains control characters`,
      );
      expect(refusal({ [field]: 'x'.repeat(5000) }).message).toMatch(
        new RegExp(`^${field}: the token is over \\d+ bytes$`),
      );
      expect(refusal({ [field]: 42 }).message).toBe(`${field}: must be a string`);
    });
  }

  it('publishToken: a usable string, on a publisher or exec: stream only', () => {
    expect(resolve({ source: 'publisher', publishToken: 'p' }).publishToken).toBe('p');
    expect(resolve({ source: 'exec:cam', publishToken: 'p' }).publishToken).toBe('p');
    expect(resolve({ publishToken: null }).publishToken).toBeNull();
    expect(refusal({ source: 'publisher', publishToken: '' }).message).toBe(
      'publishToken: the token is empty',
    );
    expect(refusal({ source: 'publisher', publishToken: 7 as unknown as string }).message).toBe(
      'publishToken: must be a string',
    );
    expect(refusal({ source: 'publisher', publishToken: 'a\u007f' }).message).toBe(
      'publishToken: the token contains control characters',
    );
    const err = refusal({ source: 'test', publishToken: 'p' });
    expect(err.field).toBe('publishToken');
    expect(err.message).toBe(
      'publishToken: only a stream whose source is publisher (or exec:COMMAND) takes publishers',
    );
  });
});

describe('resolveStreamConfig: recording', () => {
  it('recordPath: a folder, or null', () => {
    expect(resolve({ recordPath: 'recordings/x' }).recordPath).toBe('recordings/x');
    expect(resolve({ recordPath: null }).recordPath).toBeNull();
    for (const bad of ['', '  ', 'a\0b', 5]) {
      expect(refusal({ recordPath: bad } as Partial<StreamConfig>).message).toBe(
        `recordPath: must be a folder's path, got ${JSON.stringify(bad)}`,
      );
    }
  });

  it('recordSegmentDuration: from 1 s to 24 h, seconds or with a unit', () => {
    expect(resolve({ recordSegmentDuration: 1 }).recordSegmentDuration).toBe(1);
    expect(resolve({ recordSegmentDuration: 86400 }).recordSegmentDuration).toBe(86400);
    expect(resolve({ recordSegmentDuration: '1h' }).recordSegmentDuration).toBe(3600);
    expect(resolve({ recordSegmentDuration: '24h' }).recordSegmentDuration).toBe(86400);
    for (const bad of [0.5, 0, 86401, '25h', 'soon', '999ms']) {
      expect(refusal({ recordSegmentDuration: bad }).message).toBe(
        `recordSegmentDuration: must be from 1 s to 24 h (seconds, or e.g. 60s, 10m, 1h), got ${JSON.stringify(bad)}`,
      );
    }
  });

  it('recordDeleteAfter: at least 1 s, or null', () => {
    expect(resolve({ recordDeleteAfter: 1 }).recordDeleteAfter).toBe(1);
    expect(resolve({ recordDeleteAfter: '12h' }).recordDeleteAfter).toBe(43200);
    expect(resolve({ recordDeleteAfter: null }).recordDeleteAfter).toBeNull();
    for (const bad of [0.5, 0, -5, 'later', '500ms']) {
      expect(refusal({ recordDeleteAfter: bad }).message).toBe(
        `recordDeleteAfter: must be at least 1 s (seconds, or e.g. 12h, 7d), or null to keep recordings, got ${JSON.stringify(bad)}`,
      );
    }
  });

  it('recordMaxBytes: at least 1024, or null', () => {
    expect(resolve({ recordMaxBytes: 1024 }).recordMaxBytes).toBe(1024);
    expect(resolve({ recordMaxBytes: '10GB' }).recordMaxBytes).toBe(10e9);
    expect(resolve({ recordMaxBytes: '500MiB' }).recordMaxBytes).toBe(500 * 2 ** 20);
    expect(resolve({ recordMaxBytes: null }).recordMaxBytes).toBeNull();
    for (const bad of [1023, 0, '1023B', 'lots', '1000B']) {
      expect(refusal({ recordMaxBytes: bad }).message).toBe(
        `recordMaxBytes: must be at least 1024 bytes (a number, or e.g. 500MB, 10GiB), or null, got ${JSON.stringify(bad)}`,
      );
    }
  });
});

describe('splitNamedSource', () => {
  const none = () => false;
  it('splits NAME=SOURCE at the first =', () => {
    expect(splitNamedSource('cam=rtsp://h/x?a=b', none)).toEqual({ name: 'cam', source: 'rtsp://h/x?a=b' });
    expect(splitNamedSource('a=', none)).toEqual({ name: 'a', source: '' });
  });

  it('gives the default stream a source without a valid name before =', () => {
    expect(splitNamedSource('http://cam/x?a=b', none)).toEqual({ name: null, source: 'http://cam/x?a=b' });
    expect(splitNamedSource('=clip.mp4', none)).toEqual({ name: null, source: '=clip.mp4' });
    expect(splitNamedSource('clip.mp4', none)).toEqual({ name: null, source: 'clip.mp4' });
    expect(splitNamedSource('_x=clip.mp4', none)).toEqual({ name: null, source: '_x=clip.mp4' });
  });

  it('gives the default stream an existing file whose name holds =', () => {
    const seen: string[] = [];
    const exists = (p: string) => {
      seen.push(p);
      return p === 'a=b.mp4';
    };
    expect(splitNamedSource('a=b.mp4', exists)).toEqual({ name: null, source: 'a=b.mp4' });
    expect(seen).toEqual(['a=b.mp4']);
    expect(splitNamedSource('a=c.mp4', exists)).toEqual({ name: 'a', source: 'c.mp4' });
  });

  it('does not ask whether a file exists without an = (or with one first)', () => {
    let asked = 0;
    const exists = () => {
      asked++;
      return true;
    };
    expect(splitNamedSource('clip.mp4', exists)).toEqual({ name: null, source: 'clip.mp4' });
    expect(splitNamedSource('=x', exists)).toEqual({ name: null, source: '=x' });
    expect(asked).toBe(0);
  });
});
