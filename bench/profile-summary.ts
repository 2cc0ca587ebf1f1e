// Summarises a .cpuprofile: the functions with the most self time and the most inclusive time.
// Usage: node --import tsx bench/profile-summary.ts FILE [TOP] [UNDER]
// UNDER (a substring of a function's "name file"): also the time below the first frame that
// matches it on each stack, by the callee it went to next (where that frame's time goes).
import { readFileSync } from 'node:fs';

interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
}
interface ProfileNode {
  id: number;
  callFrame: CallFrame;
  children?: number[];
}
interface Profile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

const [file, topArg, under] = process.argv.slice(2);
if (!file) {
  console.error('usage: node --import tsx bench/profile-summary.ts FILE [TOP]');
  process.exit(2);
}
const top = Number(topArg ?? 25);
const profile = JSON.parse(readFileSync(file, 'utf8')) as Profile;
const byId = new Map(profile.nodes.map((n) => [n.id, n]));
const parentOf = new Map<number, number>();
for (const node of profile.nodes) for (const child of node.children ?? []) parentOf.set(child, node.id);

const nameOf = (node: ProfileNode): string => {
  const cf = node.callFrame;
  const where = cf.url.replace(/^.*\/node_modules\//, 'node_modules/').replace(/^file:\/\/.*?\/(src|bench|test)\//, '$1/');
  return `${cf.functionName || '(anonymous)'} ${where}${where ? `:${cf.lineNumber + 1}` : ''}`;
};

const timeOf = new Map<number, number>();
let total = 0;
profile.samples.forEach((id, i) => {
  const dt = profile.timeDeltas[i] ?? 0;
  timeOf.set(id, (timeOf.get(id) ?? 0) + dt);
  total += dt;
});

const self = new Map<string, number>();
const inclusive = new Map<string, number>();
for (const [id, t] of timeOf) {
  const node = byId.get(id)!;
  self.set(nameOf(node), (self.get(nameOf(node)) ?? 0) + t);
  const seen = new Set<string>();
  for (let cur: number | undefined = id; cur !== undefined; cur = parentOf.get(cur)) {
    const name = nameOf(byId.get(cur)!);
    if (seen.has(name)) continue;
    seen.add(name);
    inclusive.set(name, (inclusive.get(name) ?? 0) + t);
  }
}

const show = (title: string, m: Map<string, number>) => {
  console.log(`--- ${title}`);
  for (const [name, t] of [...m].sort((a, b) => b[1] - a[1]).slice(0, top)) {
    console.log(`${(t / 1000).toFixed(0).padStart(7)} ms ${((100 * t) / total).toFixed(1).padStart(5)} %  ${name}`);
  }
};
/** Below the outermost frame matching `pattern`: each sample's time, by the frame right under it (or 'self'). */
function below(pattern: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const [id, t] of timeOf) {
    const stack: number[] = [];
    for (let cur: number | undefined = id; cur !== undefined; cur = parentOf.get(cur)) stack.unshift(cur);
    const at = stack.findIndex((n) => nameOf(byId.get(n)!).includes(pattern));
    if (at < 0) continue;
    const next = stack[at + 1];
    const name = next === undefined ? '(self)' : nameOf(byId.get(next)!);
    out.set(name, (out.get(name) ?? 0) + t);
  }
  return out;
}

process.stdout.on('error', () => process.exit(0)); // piped into head
console.log(`${file}: ${(total / 1000).toFixed(0)} ms sampled`);
show('self time', self);
show('inclusive time', inclusive);
if (under) show(`below ${under}`, below(under));
