/**
 * The data directory's own permissions. It holds the root key, the root
 * credentials and every object's ciphertext, so only Coffer's user may enter it:
 * made 0700 when Coffer creates it, and tightened to 0700 when it already existed
 * with group or other access (a `mkdir data` before first start leaves 0755).
 */
import { chmod, mkdir, stat } from 'node:fs/promises';

export type DataDirPermissions =
  | { kind: 'private' }
  /** It was open to others and is now 0700; `was` is the previous mode. */
  | { kind: 'tightened'; was: number }
  /** Open to others but owned by another user: left alone (its owner decides), and worth a warning. */
  | { kind: 'not-owned'; mode: number; uid: number };

/** Creates `dir` (0700) if missing and tightens it to 0700 if Coffer's user owns it. */
export async function ensurePrivateDataDir(dir: string): Promise<DataDirPermissions> {
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const st = await stat(dir);
  const mode = st.mode & 0o7777;
  if ((mode & 0o077) === 0) return { kind: 'private' };
  const uid = process.getuid?.();
  if (uid === undefined) return { kind: 'private' }; // no POSIX owners (Windows): nothing to tighten
  if (st.uid !== uid) return { kind: 'not-owned', mode, uid: st.uid };
  await chmod(dir, mode & ~0o077);
  return { kind: 'tightened', was: mode };
}
