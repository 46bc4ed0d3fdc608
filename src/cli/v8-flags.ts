/**
 * V8 heap settings for every serving process (the workers `coffer serve`
 * forks; the benchmark also gives them to a single-process Coffer and to its
 * sinks, so ratios compare code, not heap settings).
 *
 * Bytes stream through a server as Buffers whose memory lives outside V8's heap:
 * each socket read and each cipher output is a fresh ArrayBuffer, about 2 MiB per
 * MiB stored or served. V8 counts that external memory against a limit derived
 * from the old generation's size, and Coffer's old generation is small (~15 MB),
 * so with the defaults every ~8 MiB streamed started a full mark-compact: at
 * 160 MiB/s, 15–20 of them a second, 3–5 ms of main thread each plus concurrent
 * marking (13% of the server's CPU in `perf`). A larger initial old generation
 * raises that limit. With 32 MB a single process made 32 mark-compacts instead
 * of 167 over the same PUT 1 MiB run; with 64 MB it served 33% more PUT and 24%
 * more GET throughput.
 *
 * 32 MB was still too tight for large objects. V8 counts the external memory
 * allocated since the last mark-compact against the same limit, and Coffer's
 * heap already takes 12-15 MB of it, so streaming 64 MiB objects (each stream
 * holding its socket reads, cipher output and a 1 MiB write batch) kept
 * reaching it: 7 of 8 runs of 16 x 64 MiB PUTs on one process fell into
 * back-to-back mark-compacts (~75 per GiB, started for "allocation limit" with
 * 12 of 32 MB of heap used), at 307-369 ms of CPU per PUT instead of 216-244.
 * With 40 MB (6 runs, and 2 of 48 x 64 MiB GETs) and 48 MB (6 runs) none did.
 * 40 MB it is: in the full benchmark 48 MB left every worker's heap larger, and
 * 16 concurrent 64 MiB uploads then took 318 MB (bench/RESULTS.md).
 *
 * The small young generation (Node's default semi-space is 16 MB) makes V8 drop
 * the wrappers of dead Buffers sooner, so their memory goes back before it piles
 * up: 16 concurrent 64 MiB uploads peaked at 351 MB over all processes with the
 * default, 291 MB with it.
 */
export const SERVING_V8_FLAGS: readonly string[] = ['--max-semi-space-size=2', '--initial-old-space-size=40'];
