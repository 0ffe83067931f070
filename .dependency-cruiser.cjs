// The allowed arrows between the rooms of src/ (docs/architecture.md draws them). A room may
// import itself and the rooms listed for it, nothing else; every file lives in a room; no circle.
// The unit suite runs this (test/unit/architecture.test.ts); so does `npx depcruise src`.
/** @type {Record<string, string[]>} room → the rooms it may import */
const rooms = {
  core: [],
  fs: ['core'],
  log: ['core'],
  url: ['core'],
  options: ['core'],
  protocol: ['core', 'log', 'url'],
  session: ['core', 'fs', 'log', 'options', 'url'],
  gluster: ['core', 'fs', 'log', 'options', 'session'],
  transport: ['core', 'fs', 'log', 'options', 'url', 'protocol'],
  observe: ['core', 'fs', 'log', 'options', 'url', 'protocol', 'session', 'transport'],
  master: ['core', 'fs', 'log', 'options', 'url', 'protocol', 'session', 'gluster', 'transport', 'observe'],
  slave: ['core', 'fs', 'log', 'options', 'url', 'protocol', 'session', 'gluster', 'transport', 'observe'],
  cli: ['core', 'fs', 'log', 'url', 'options', 'protocol', 'session', 'gluster', 'transport', 'observe', 'master', 'slave'],
};

const names = Object.keys(rooms);

/** Node built-ins that do I/O or talk to the system: none of them in the pure core. */
const ioBuiltins = ['fs', 'fs/promises', 'child_process', 'net', 'http', 'https', 'dgram', 'dns', 'os', 'process', 'worker_threads', 'cluster', 'tls', 'readline'];

module.exports = {
  forbidden: [
    ...names.map((room) => ({
      name: `${room}-arrows`,
      comment: `src/${room} may import only ${rooms[room].length ? rooms[room].map((r) => `src/${r}`).join(', ') : 'itself'}`,
      severity: 'error',
      from: { path: `^src/${room}/` },
      to: { path: '^src/', pathNot: [`^src/(${[room, ...rooms[room]].join('|')})/`] },
    })),
    {
      name: 'file-in-no-room',
      comment: `every source file lives in one of the rooms: ${names.join(', ')}`,
      severity: 'error',
      from: { path: '^src/', pathNot: [`^src/(${names.join('|')})/`] },
      to: {},
    },
    {
      name: 'no-circular',
      comment: 'a circle of imports means two files hold one idea, or an arrow points up',
      severity: 'error',
      from: {},
      to: { circular: true },
    },
    {
      name: 'core-is-pure',
      comment: 'src/core holds decisions without I/O: no file system, processes, network',
      severity: 'error',
      from: { path: '^src/core/' },
      to: { dependencyTypes: ['core'], path: `^(node:)?(${ioBuiltins.join('|')})$` },
    },
    {
      name: 'not-to-unresolvable',
      comment: 'an import that resolves to nothing',
      severity: 'error',
      from: {},
      to: { couldNotResolve: true },
    },
  ],
  options: {
    parser: 'swc',
    // Type-only imports are arrows too: a type from master in slave ties slave to master.
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    doNotFollow: { path: 'node_modules' },
    exclude: { path: '(^|/)(node_modules|dist)/' },
    moduleSystems: ['es6'],
  },
};
