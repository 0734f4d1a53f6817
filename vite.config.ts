// Two builds from one config:
//   vite build              → the site in dist/ (index.html: the demo, bench.html: the benchmark,
//                             public/ copied along, so the shipped model lands in dist/models/toy/)
//   vite build --mode lib   → dist/webdit.js: one ES module with everything inside (the WGSL shaders,
//                             libwebp's WebAssembly), which defines <webdit-video> when imported.
// `npm run build` runs both; `npm run dev` / `npm start` serve the pages with Vite's dev server.
// A third, for the npm package (`npm run build:package`, run by `npm pack`):
//   vite build --mode package → lib/browser/: the "browser" entries `webdit` (the API) and
//                             `webdit/element` (<webdit-video>), dependencies and shaders inside, so any
//                             bundler takes them as they are.

import { resolve } from 'node:path';
import { defineConfig, type UserConfig } from 'vite';

const root = import.meta.dirname;

export default defineConfig(({ mode, command }): UserConfig => {
  const shared: UserConfig = {
    root,
    // Relative URLs in the built pages, so dist/ works from any folder of a site (e.g. /webdit/).
    base: command === 'build' ? './' : '/',
    // Two pages and no client-side router: a missing file must answer 404, not index.html (the model
    // loader treats 404 as "absent" and a URL that is not a model folder must say so).
    appType: 'mpa',
    optimizeDeps: {
      // libwebp's glue finds its .wasm with new URL('…wasm', import.meta.url): pre-bundling would move
      // the glue away from its .wasm, so serve the package as it is.
      exclude: ['@jsquash/webp'],
      include: ['mediabunny', '@jsquash/webp > wasm-feature-detect'],
    },
    build: { target: 'es2022', sourcemap: true },
  };
  // Rolldown's note on slow plugins is noise on a busy 2-core machine.
  const checks = { bundlerTimings: false };
  if (mode === 'lib') {
    return {
      ...shared,
      // Only the module: public/ (the model) was copied by the site build.
      publicDir: false,
      build: {
        ...shared.build,
        outDir: 'dist',
        emptyOutDir: false,
        copyPublicDir: false,
        // Library mode inlines assets (the .wasm becomes a data: URL inside the module).
        lib: { entry: resolve(root, 'src/webdit.ts'), formats: ['es'], fileName: () => 'webdit.js' },
        rolldownOptions: { checks, output: { codeSplitting: false } },
      },
    };
  }
  if (mode === 'package') {
    return {
      ...shared,
      publicDir: false,
      build: {
        ...shared.build,
        outDir: 'lib/browser',
        emptyOutDir: true,
        copyPublicDir: false,
        sourcemap: false,
        lib: {
          entry: { index: resolve(root, 'src/index.ts'), element: resolve(root, 'src/element.ts') },
          formats: ['es'],
          fileName: (_format, name) => `${name}.js`,
        },
        rolldownOptions: { checks },
      },
    };
  }
  return {
    ...shared,
    build: {
      ...shared.build,
      rolldownOptions: { checks, input: { index: resolve(root, 'index.html'), bench: resolve(root, 'bench.html') } },
    },
  };
});
