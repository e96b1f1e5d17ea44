// Reads one manifest file from disk for the directory source and `validate`, bounded: only a
// regular file (a FIFO would block the read forever, a device never end), and at most
// MAX_MANIFEST_FILE_BYTES (the parse of a huge file would stall everything else for seconds).
import { constants, type Stats } from 'node:fs';
import fsp from 'node:fs/promises';

/** Four ConfigMaps of the API server's maximum (1 MiB of data each) still fit in one file. */
export const MAX_MANIFEST_FILE_BYTES = 4 * 1024 * 1024;

export type ManifestFileRead = { bytes: Buffer } | { gone: true } | { problem: string };

export async function readManifestFile(file: string): Promise<ManifestFileRead> {
  let handle: fsp.FileHandle;
  try {
    // O_NONBLOCK: opening a FIFO with no writer returns at once instead of waiting for one.
    handle = await fsp.open(file, constants.O_RDONLY | constants.O_NONBLOCK);
  } catch (err) {
    const code = errorCode(err);
    return code === 'ENOENT' ? { gone: true } : { problem: `${file}: cannot read the file (${code}) — fix its permissions` };
  }
  try {
    const stat = await handle.stat();
    if (!stat.isFile()) return { problem: `${file}: not a regular file (${fileType(stat)}) — only manifest files (and folders of them) are read` };
    if (stat.size > MAX_MANIFEST_FILE_BYTES) return { problem: tooLarge(file) };
    // Up to one byte more than allowed: a file that grew since the stat is caught too.
    let buffer = Buffer.allocUnsafe(stat.size + 1);
    let length = 0;
    for (;;) {
      if (length === buffer.length) {
        if (length > MAX_MANIFEST_FILE_BYTES) return { problem: tooLarge(file) };
        const bigger = Buffer.allocUnsafe(MAX_MANIFEST_FILE_BYTES + 1);
        buffer.copy(bigger, 0, 0, length);
        buffer = bigger;
      }
      const { bytesRead } = await handle.read(buffer, length, buffer.length - length, length);
      if (bytesRead === 0) break;
      length += bytesRead;
    }
    if (length > MAX_MANIFEST_FILE_BYTES) return { problem: tooLarge(file) };
    return { bytes: buffer.subarray(0, length) };
  } catch (err) {
    return { problem: `${file}: cannot read the file (${errorCode(err)}) — fix its permissions` };
  } finally {
    await handle.close();
  }
}

function tooLarge(file: string): string {
  return `${file}: the file is larger than ${MAX_MANIFEST_FILE_BYTES / (1024 * 1024)} MiB, the most a manifest file may be here — split it into several files (a ConfigMap or Secret holds at most 1 MiB of data)`;
}

function fileType(stat: Stats): string {
  if (stat.isFIFO()) return 'a FIFO';
  if (stat.isSocket()) return 'a socket';
  if (stat.isCharacterDevice() || stat.isBlockDevice()) return 'a device';
  if (stat.isDirectory()) return 'a directory';
  return 'not a file';
}

function errorCode(err: unknown): string {
  if (err instanceof Error && 'code' in err && typeof err.code === 'string') return err.code;
  return err instanceof Error ? err.message : String(err);
}
