/**
 * Real filesystems for fault tests: a small tmpfs (to fill), and an ext4 volume
 * on a loop device (to fail underneath a running server, and to mount again).
 * Mounting needs root (CI runs as root); where it is impossible the helpers
 * return the reason, for `t.skip(reason)`, instead of a mount.
 */
import { execFileSync } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';

/** What a failed command printed, for a skip reason. */
function why(err: unknown): string {
  return String((err as { stderr?: Buffer }).stderr ?? err).trim();
}

function run(cmd: string, args: string[]): void {
  execFileSync(cmd, args, { stdio: 'pipe' });
}

export interface TmpfsMount {
  dir: string;
  /** Unmounts (lazily if something still holds it) and removes the mount point. */
  cleanup(): void;
}

/** A tmpfs of `size` (mount(8)'s syntax, e.g. '24m') at a new directory under the system temp dir. */
export function mountTmpfs(prefix: string, size: string): TmpfsMount | { skip: string } {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  try {
    run('mount', ['-t', 'tmpfs', '-o', `size=${size},mode=0700`, 'tmpfs', dir]);
  } catch (err) {
    rmSync(dir, { recursive: true, force: true });
    return { skip: `cannot mount a tmpfs (needs root): ${why(err)}` };
  }
  return {
    dir,
    cleanup: () => {
      try {
        run('umount', [dir]);
      } catch {
        run('umount', ['-l', dir]);
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/**
 * An ext4 volume on a loop device whose image lives on a tmpfs (RAM: fast, and
 * gone with the test), mounted `errors=remount-ro` as production volumes are.
 *
 * A filesystem cannot be remounted read-only while files are open for writing
 * (`mount -o remount,ro` answers EBUSY while SQLite holds its database), so the
 * read-only fault is made the way it happens in production: ext4 meets an error
 * and, with errors=remount-ro, turns itself read-only at once — every write,
 * also through descriptors already open, then fails with EROFS (reads still
 * work). `fail()` raises that error through ext4's own trigger_fs_error. Such a
 * volume cannot be made writable again in place (`remount,rw` is refused after
 * an error): it is lazily unmounted (`detach()`: the path then leads to the
 * empty mount point, and descriptors still open stay on the dead mount), checked
 * and mounted again (`attachAgain()`), as an operator would.
 */
export interface Ext4Volume {
  dir: string;
  /** The volume meets an I/O error and turns itself read-only (EROFS for every write). */
  fail(): void;
  /** Lazy unmount: the volume is gone from its path. */
  detach(): void;
  /** e2fsck, then mounted again at the same path. */
  attachAgain(): void;
  cleanup(): void;
}

export function mountExt4(prefix: string, sizeMiB: number): Ext4Volume | { skip: string } {
  const backing = mountTmpfs(`${prefix}img-`, `${sizeMiB + 8}m`);
  if ('skip' in backing) return backing;
  const image = join(backing.dir, 'volume.img');
  const dir = mkdtempSync(join(tmpdir(), `${prefix}mnt-`));
  // A loop device of its own each time: mount(8)'s `-o loop` reuses the one still attached to
  // the image (the failed volume's, kept alive by the descriptors open on it), and would
  // hand back the failed filesystem itself.
  const devices: string[] = [];
  const mount = () => {
    const device = execFileSync('losetup', ['--find', '--show', image], { encoding: 'utf8' }).trim();
    devices.push(device);
    run('mount', ['-o', 'errors=remount-ro', device, dir]);
  };
  try {
    const fd = openSync(image, 'w');
    closeSync(fd);
    run('truncate', ['-s', `${sizeMiB}M`, image]);
    run('mkfs.ext4', ['-q', '-F', '-E', 'lazy_itable_init=0,lazy_journal_init=0', image]);
    mount();
  } catch (err) {
    for (const d of devices) execFileSync('losetup', ['-d', d], { stdio: 'ignore' });
    rmSync(dir, { recursive: true, force: true });
    backing.cleanup();
    return { skip: `cannot mount an ext4 volume on a loop device (needs root, loop devices and mkfs.ext4): ${why(err)}` };
  }
  let mounted = true;
  /**
   * The loop device mounted at `dir` itself, and one of ours — never what the path
   * leads to otherwise: with the volume detached that is the filesystem holding the
   * mount point (the machine's own disk), which must never get an error raised.
   */
  const ourDevice = (): string => {
    if (!mounted) throw new Error(`the test volume is not mounted at ${dir}`);
    const source = execFileSync('findmnt', ['-n', '-o', 'SOURCE', '--mountpoint', dir], { encoding: 'utf8' }).trim();
    if (source !== devices.at(-1)) throw new Error(`${dir} is not the test volume's mount (found '${source}')`);
    return basename(source);
  };
  return {
    dir,
    fail: () => writeFileSync(`/sys/fs/ext4/${ourDevice()}/trigger_fs_error`, 'coffer fault test: the volume fails'),
    detach: () => {
      ourDevice();
      run('umount', ['-l', dir]);
      mounted = false;
    },
    attachAgain: () => {
      try {
        run('e2fsck', ['-f', '-y', image]);
      } catch (err) {
        // 1: errors were corrected (the error fail() raised is recorded in the superblock).
        if ((err as { status?: number }).status !== 1) throw err;
      }
      mount();
      mounted = true;
    },
    cleanup: () => {
      if (mounted) {
        try {
          run('umount', [dir]);
        } catch {
          run('umount', ['-l', dir]);
        }
      }
      rmSync(dir, { recursive: true, force: true });
      // A loop device still in use (a lazily unmounted volume that a process holds) is
      // detached once nothing holds it.
      for (const d of devices) {
        try {
          run('losetup', ['-d', d]);
        } catch {
          /* already detached */
        }
      }
      backing.cleanup();
    },
  };
}
