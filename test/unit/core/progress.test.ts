import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { formatBytes, formatDuration, formatProgress, progressLine } from '../../../src/core/progress.js';

describe('progress line', () => {
  it('rates, percent and ETA from an estimate', () => {
    const l = progressLine({ scanned: 2500, bytesSent: 10 << 20, elapsedMs: 10_000, estimate: 10_000 });
    assert.equal(l.rateEntriesS, 250);
    assert.equal(l.rateBytesS, 1_048_576);
    assert.equal(l.percent, 25);
    assert.equal(l.etaS, 30);
    assert.equal(formatProgress(l), 'scanned 2,500 of ~10,000 entries (25.0 %), 10.0 MiB sent, 250/s, 10s elapsed, ETA 30s');
  });

  it('no ETA without an estimate, once the estimate is passed, or before anything was scanned', () => {
    assert.equal(progressLine({ scanned: 10, bytesSent: 0, elapsedMs: 1000, estimate: null }).etaS, undefined);
    const passed = progressLine({ scanned: 12_000, bytesSent: 0, elapsedMs: 1000, estimate: 10_000 });
    assert.equal(passed.etaS, undefined);
    assert.equal(passed.percent, undefined);
    assert.equal(progressLine({ scanned: 0, bytesSent: 0, elapsedMs: 1000, estimate: 10 }).etaS, undefined);
    assert.equal(progressLine({ scanned: 0, bytesSent: 0, elapsedMs: 0, estimate: null }).rateEntriesS, 0);
  });

  it('formats bytes and durations', () => {
    assert.equal(formatBytes(1023), '1023 B');
    assert.equal(formatBytes(1536), '1.5 KiB');
    assert.equal(formatDuration(59.6), '1m00s');
    assert.equal(formatDuration(3725), '1h02m');
  });
});
