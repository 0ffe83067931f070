// Every path the slave is asked to touch is relative to its root and must stay inside it.

export type PathRefusal = 'nul_byte' | 'absolute_path' | 'path_escape' | 'bad_path';

export const MAX_PATH_BYTES = 4095;
export const MAX_NAME_BYTES = 255;

/** null when `rel` is a safe relative path ('' = the root itself), else why it is refused. */
export function checkRelPath(rel: unknown): PathRefusal | null {
  if (typeof rel !== 'string') return 'bad_path';
  if (rel === '') return null;
  if (rel.includes('\0')) return 'nul_byte';
  if (rel.startsWith('/')) return 'absolute_path';
  if (rel.length > MAX_PATH_BYTES) return 'bad_path';
  for (let i = 0; i < rel.length; i++) if (rel.charCodeAt(i) > 0xff) return 'bad_path';
  for (const part of rel.split('/')) {
    if (part === '..') return 'path_escape';
    if (part === '' || part === '.' || part.length > MAX_NAME_BYTES) return 'bad_path';
  }
  return null;
}
