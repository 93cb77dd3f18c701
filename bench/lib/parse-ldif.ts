/**
 * Measures one LdifSource read of an export: wall time, peak RSS, and what came out.
 *   node --expose-gc dist/bench/lib/parse-ldif.js bench/out/forest.ldif [--attrs a,b,c] [--base DN]...
 */
import { parseArgs } from 'node:util';
import { LdifSource } from '../../src/connectors/ldif/index.js';

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: { attrs: { type: 'string' }, base: { type: 'string', multiple: true } },
});
const path = positionals[0] ?? 'bench/out/forest.ldif';
let peak = 0;
const timer = setInterval(() => {
  peak = Math.max(peak, process.memoryUsage.rss());
}, 20);
const started = performance.now();
const source = new LdifSource({ name: 'bench', path });
const snap = await source.read({
  attributes: values.attrs === undefined ? [] : values.attrs.split(',').map((a) => a.trim().toLowerCase()),
  baseDns: values.base ?? [],
});
const ms = performance.now() - started;
clearInterval(timer);
peak = Math.max(peak, process.memoryUsage.rss());
let members = 0;
for (const e of snap.entries) members += e.attrs['member']?.length ?? 0;
(globalThis as { gc?: () => void }).gc?.();
const mib = (b: number): string => `${(b / 2 ** 20).toFixed(0)} MiB`;
process.stdout.write(
  `${path}: ${snap.entries.length} entries, ${members} member values, contexts ${snap.namingContexts.map((c) => c.dnsName).join(' ')}\n` +
    `read ${ms.toFixed(0)} ms, peak RSS ${mib(peak)}, heap after GC ${mib(process.memoryUsage().heapUsed)}, RSS after GC ${mib(process.memoryUsage.rss())}\n`,
);
