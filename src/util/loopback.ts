import { isIPv4 } from 'node:net';

/**
 * True for a loopback name or address: `localhost`, 127.0.0.0/8 as an address, `::1` (brackets, a
 * final dot and `::ffff:` mapping allowed). Only this machine reaches a server bound to one; a name
 * that merely starts with `127.` (`127.example.com`) is not one. The one rule for the config check
 * (publishers without a token) and HTTP's Host and Origin checks.
 */
export function isLoopbackHost(hostname: string): boolean {
  const h = hostname
    .toLowerCase()
    .replace(/^\[(.*)\]$/, '$1')
    .replace(/\.$/, '');
  if (h === 'localhost' || h === '::1') return true;
  // ::ffff:127.0.0.1 as the URL parser writes it.
  if (/^::ffff:7f[0-9a-f]{2}:[0-9a-f]{1,4}$/.test(h)) return true;
  const v4 = h.startsWith('::ffff:') ? h.slice('::ffff:'.length) : h;
  return isIPv4(v4) && v4.startsWith('127.');
}
