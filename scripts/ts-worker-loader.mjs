// Lets a worker thread run TypeScript sources when the app itself runs from them (the test
// suite, through ts-jest): `node --import ./scripts/ts-worker-loader.mjs worker.ts`. Compiled
// builds never use it. Transpiles only (the type check is tsc's job), with the typescript package.
import { register } from 'node:module';

register('./ts-worker-hooks.mjs', import.meta.url);
