import { spawn } from 'node:child_process';
import { LocalViewerServer, type ReceivedViewerFrame } from '../transports/http/viewer-server.js';
import type { EndReason } from '../hub/subscriber.js';

/** True when a browser could be shown: a desktop session (X11/Wayland) or macOS/Windows. */
export function displayAvailable(env: NodeJS.ProcessEnv = process.env, platform = process.platform): boolean {
  if (platform === 'darwin' || platform === 'win32') return true;
  return Boolean(env.DISPLAY || env.WAYLAND_DISPLAY);
}

/** The command that opens a URL in the user's browser on this platform. */
export function openCommand(url: string, platform = process.platform): [string, string[]] {
  if (platform === 'darwin') return ['open', [url]];
  // Not `cmd /c start`: cmd would parse the URL's `&` as a command separator.
  if (platform === 'win32') return ['rundll32', ['url.dll,FileProtocolHandler', url]];
  return ['xdg-open', [url]];
}

/** Opens `url` in a browser, detached; reports failure through `onError` instead of throwing. */
export function openBrowser(url: string, onError: (message: string) => void): void {
  const [cmd, args] = openCommand(url);
  try {
    const child = spawn(cmd, args, { detached: true, stdio: 'ignore' });
    child.once('error', (err) => onError(`could not open a browser (${cmd}: ${err.message}); open ${url}`));
    child.unref();
  } catch (err) {
    onError(`could not open a browser (${(err as Error).message}); open ${url}`);
  }
}

/** A running browser view of `play`. */
export interface BrowserView {
  url: string;
  push(frame: ReceivedViewerFrame): void;
  close(reason?: EndReason): Promise<void>;
}

/** Starts the local viewer for `play --view browser`, prints its URL, and opens it unless told not to. */
export async function startBrowserView(opts: {
  port: number;
  open: boolean;
  from: string;
  print: (line: string) => void;
}): Promise<BrowserView> {
  const server = new LocalViewerServer({ port: opts.port, title: `framecast — RECIBIDO from ${opts.from}` });
  await server.listen();
  const url = server.url();
  opts.print(`viewer: ${url}${opts.open ? '' : '   (open it in a browser)'}`);
  if (opts.open) openBrowser(url, opts.print);
  return { url, push: (f) => server.push(f), close: (reason) => server.close(reason) };
}

/**
 * `play`'s default view: the browser when a person is likely watching (a display, an interactive
 * terminal, no --json), else none, so scripts and CI never get a browser opened behind their back.
 */
export function defaultView(json: boolean): 'browser' | 'none' {
  return displayAvailable() && process.stderr.isTTY === true && !json ? 'browser' : 'none';
}
