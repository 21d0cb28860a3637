/**
 * PasswordChecker: right and wrong passwords, an unknown user checked against the decoy, a password
 * verified lately known without a new scrypt run, and the bound on checks waiting (beyond it: null,
 * "busy", at once).
 */
import { describe, expect, it } from 'vitest';
import { hashPassword, parsePasswordHash, type ScryptParams } from '../../src/access/password.js';
import { PasswordChecker } from '../../src/access/password-checker.js';

// The cheapest cost the config allows: each check is about a millisecond.
const params = async (password: string): Promise<ScryptParams> =>
  parsePasswordHash(await hashPassword(password, 10)) as ScryptParams;

describe('PasswordChecker', () => {
  it("says whether a password is the user's; an unknown user is false after the decoy's work, false at once without users", async () => {
    const ann = await params('s3cret');
    const checker = new PasswordChecker(() => ann);
    expect(await checker.check('ann', ann, 's3cret')).toBe(true);
    expect(await checker.check('ann', ann, 's3cret ')).toBe(false);
    // An unknown user typing the decoy's own password is still nobody.
    expect(await checker.check('bob', null, 's3cret')).toBe(false);
    expect(await new PasswordChecker(() => null).check('bob', null, 'x')).toBe(false);
  });

  it('answers null at once when 2 checks run and 256 wait; a password verified lately is still known then', async () => {
    const ann = await params('s3cret');
    const other = await params('other');
    const checker = new PasswordChecker(() => ann);
    expect(await checker.check('ann', ann, 's3cret')).toBe(true);
    const crowd = Array.from({ length: 258 }, (_, i) => checker.check(`u${i}`, other, `wrong ${i}`));
    // Not one more waits: refused before any work.
    expect(await checker.check('zed', other, 'other')).toBeNull();
    expect(await checker.check('ann', ann, 'not it')).toBeNull();
    // Known from the memo, no scrypt run needed.
    expect(await checker.check('ann', ann, 's3cret')).toBe(true);
    // The memo is of this user, this password and this hash only.
    expect(await checker.check('bob', ann, 's3cret')).toBeNull();
    expect(await Promise.all(crowd)).toEqual(Array(258).fill(false));
    // Room again once they are done.
    expect(await checker.check('zed', other, 'other')).toBe(true);
  });
});
