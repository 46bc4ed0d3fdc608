#!/usr/bin/env node
// Makes the `coffer` bin (package.json "bin") executable after a build: tsc writes files
// mode 0644, and npm links bins before `prepare` has built them, so after `npm ci` from a
// fresh clone `npx coffer` would otherwise fail with "Permission denied".
import { chmodSync } from 'node:fs';

chmodSync(new URL('../dist/src/cli/main.js', import.meta.url), 0o755);
