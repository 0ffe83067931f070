// The workload writer: a separate process, so the benchmark's pollers and samplers keep running
// while it writes. Usage: node --import tsx bench/writer.ts ROOT 'LAYOUT-JSON' [CONCURRENCY]
// Prints one JSON line {"event":"start","t":ms} before the first write and
// {"event":"end","t":ms,"files":n,"bytes":b} after the last close (t = Date.now()).
import fs from 'node:fs';
import path from 'node:path';
import { contentChunks, content, layoutDirs, layoutFiles, type FileSpec, type Layout } from './content.js';

function writeOne(root: string, f: FileSpec): void {
  const p = path.join(root, f.rel);
  if (f.size <= 1 << 20) {
    fs.writeFileSync(p, content(f.seed, f.size));
    return;
  }
  const fd = fs.openSync(p, 'w');
  try {
    for (const chunk of contentChunks(f.seed, f.size)) fs.writeSync(fd, chunk);
  } finally {
    fs.closeSync(fd);
  }
}

async function writeOneAsync(root: string, f: FileSpec): Promise<void> {
  await fs.promises.writeFile(path.join(root, f.rel), content(f.seed, f.size));
}

async function main(): Promise<void> {
  const [root, layoutJson, conc] = process.argv.slice(2);
  if (!root || !layoutJson) throw new Error('usage: writer.ts ROOT LAYOUT-JSON [CONCURRENCY]');
  const layout = JSON.parse(layoutJson) as Layout;
  const concurrency = Math.max(1, Number(conc ?? 1));
  const files = layoutFiles(layout);
  console.log(JSON.stringify({ event: 'start', t: Date.now() }));
  for (const d of layoutDirs(layout)) fs.mkdirSync(path.join(root, d), { recursive: true });
  let bytes = 0;
  if (concurrency === 1) {
    for (const f of files) {
      writeOne(root, f);
      bytes += f.size;
    }
  } else {
    let next = 0;
    const worker = async () => {
      while (next < files.length) {
        const f = files[next++]!;
        await writeOneAsync(root, f);
        bytes += f.size;
      }
    };
    await Promise.all(Array.from({ length: concurrency }, worker));
  }
  console.log(JSON.stringify({ event: 'end', t: Date.now(), files: files.length, bytes }));
}

main().catch((e: unknown) => {
  console.error(`writer: ${e instanceof Error ? e.stack : String(e)}`);
  process.exit(1);
});
