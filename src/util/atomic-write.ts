/** Atomic file writing: data goes to a temporary file in the same folder, which is then renamed over the target. */
import * as fs from 'fs';
import * as path from 'path';
import { randomBytes } from 'crypto';
import { InputError, errorMessage } from './errors';

function temporaryName(file: string): string {
  return path.join(path.dirname(file), `.${path.basename(file)}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`);
}

function checkTargetFolder(file: string): void {
  const dir = path.dirname(path.resolve(file));
  let stat: fs.Stats;
  try {
    stat = fs.statSync(dir);
  } catch {
    throw new InputError(`${file}: cannot write, folder ${dir} does not exist`);
  }
  if (!stat.isDirectory()) throw new InputError(`${file}: cannot write, ${dir} is not a folder`);
}

/**
 * Writes `data` to `file` so that readers see either the old file or the complete new one, never a part:
 * a failure (disk full, exception, crash) leaves the target untouched and removes the temporary file.
 */
export function writeFileAtomic(file: string, data: string | Uint8Array | readonly Uint8Array[]): void {
  checkTargetFolder(file);
  const tmp = temporaryName(file);
  let fd: number | undefined;
  try {
    fd = fs.openSync(tmp, 'wx', 0o644);
    const chunks = typeof data === 'string' ? [Buffer.from(data, 'utf8')] : data instanceof Uint8Array ? [data] : data;
    for (const chunk of chunks) {
      let written = 0;
      while (written < chunk.length) written += fs.writeSync(fd, chunk, written, chunk.length - written);
    }
    fs.fsyncSync(fd);
    fs.closeSync(fd);
    fd = undefined;
    fs.renameSync(tmp, file);
  } catch (e) {
    if (fd !== undefined) try { fs.closeSync(fd); } catch { /* already failing */ }
    try { fs.unlinkSync(tmp); } catch { /* never created */ }
    if (e instanceof InputError) throw e;
    throw new InputError(`${file}: could not be written (${errorMessage(e)}); the previous file, if any, is unchanged`);
  }
}

/** Async form of writeFileAtomic, for the extension host (does not block its event loop on large files). */
export async function writeFileAtomicAsync(file: string, data: string | Uint8Array | readonly Uint8Array[]): Promise<void> {
  checkTargetFolder(file);
  const tmp = temporaryName(file);
  let handle: fs.promises.FileHandle | undefined;
  try {
    handle = await fs.promises.open(tmp, 'wx', 0o644);
    const chunks = typeof data === 'string' ? [Buffer.from(data, 'utf8')] : data instanceof Uint8Array ? [data] : data;
    for (const chunk of chunks) {
      let written = 0;
      while (written < chunk.length) {
        written += (await handle.write(chunk, written, chunk.length - written)).bytesWritten;
      }
    }
    await handle.sync();
    await handle.close();
    handle = undefined;
    await fs.promises.rename(tmp, file);
  } catch (e) {
    if (handle !== undefined) await handle.close().catch(() => undefined);
    await fs.promises.unlink(tmp).catch(() => undefined);
    if (e instanceof InputError) throw e;
    throw new InputError(`${file}: could not be written (${errorMessage(e)}); the previous file, if any, is unchanged`);
  }
}
