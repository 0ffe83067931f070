import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { errnoOf } from '../../../src/slave/server.js';

const err = (code: string | undefined, message: string) => Object.assign(new Error(message), code === undefined ? {} : { code }) as NodeJS.ErrnoException;

describe('errnoOf', () => {
  it('keeps fs errno codes and gsyncd codes, and reads the xattr binding\'s "(os error N)"', () => {
    assert.equal(errnoOf(err('ENOENT', 'no such file')), 'ENOENT');
    assert.equal(errnoOf(err('GSYNCD_ERR_UNSAFE_PATH', 'refused')), 'GSYNCD_ERR_UNSAFE_PATH');
    assert.equal(errnoOf(err('GenericFailure', 'No such file or directory (os error 2)')), 'ENOENT');
    assert.equal(errnoOf(err('GenericFailure', 'No space left on device (os error 28)')), 'ENOSPC');
    assert.equal(errnoOf(err('GenericFailure', 'something else')), 'GenericFailure');
    assert.equal(errnoOf(err(undefined, 'plain')), 'EIO');
  });
});
