#!/usr/bin/env node
// The `authlog` command. The sources are TypeScript run through tsx (a runtime dependency), so
// `npm ci && npm start` needs no build step.
import { register } from 'tsx/esm/api';

register();
await import('../src/cli/main.ts');
