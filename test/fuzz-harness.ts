/** Runs fuzz cases in child processes, each case under a time limit and a memory watch, and classifies outcomes. */
import { ChildProcess, fork } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';

export interface FuzzJob {
  /** 'model' (default): mutate the model file at `model`; 'data': build a damaged data set with `strategy`. */
  kind?: 'model' | 'data';
  /** Path of the model file to mutate (for data jobs: a label for messages). */
  model: string;
  strategy: string;
  seed: number;
}

export type Outcome = 'result' | 'error' | 'crash' | 'hang' | 'oom';

export interface WorkerReply {
  id: number;
  outcome: 'result' | 'error' | 'crash';
  stage: 'load' | 'prepare' | 'run' | 'quantize';
  description: string;
  message: string;
}

export interface FuzzOutcome {
  job: FuzzJob;
  outcome: Outcome;
  stage?: string;
  description?: string;
  message: string;
  ms: number;
}

export interface FuzzOptions {
  workers?: number;
  caseTimeoutMs?: number;
  /** Resident memory a child may reach before it is killed and the case counted as out-of-memory. */
  maxRssMB?: number;
  onOutcome?: (o: FuzzOutcome) => void;
}

const WORKER = path.join(__dirname, 'fuzz-worker.ts');

function rssMB(pid: number | undefined): number {
  if (pid === undefined) return 0;
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) / 1024 : 0;
  } catch {
    return 0;
  }
}

/** CPU time (user + system) a process has used, in ms; -1 where /proc is not available. */
function cpuMs(pid: number | undefined): number {
  if (pid === undefined) return -1;
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' '); // after "pid (comm) "
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / 100; // utime + stime in clock ticks (USER_HZ = 100)
  } catch {
    return -1;
  }
}

/** Runs every job; never rejects because of a job: hangs, crashes and memory blow-ups are outcomes. */
export function runFuzz(jobs: FuzzJob[], options: FuzzOptions = {}): Promise<FuzzOutcome[]> {
  const workers = Math.max(1, Math.min(options.workers ?? 2, jobs.length));
  const timeoutMs = options.caseTimeoutMs ?? 10_000;
  const maxRss = options.maxRssMB ?? 3072;
  const results: FuzzOutcome[] = new Array(jobs.length);
  let next = 0;
  let finished = 0;

  return new Promise((resolve) => {
    const record = (i: number, o: Omit<FuzzOutcome, 'job'>) => {
      if (results[i]) return;
      results[i] = { job: jobs[i], ...o };
      options.onOutcome?.(results[i]);
      if (++finished === jobs.length) resolve(results);
    };

    const startSlot = () => {
      if (next >= jobs.length) return;
      let child: ChildProcess;
      let current = -1;
      let started = 0;
      let stderr = '';
      let timer: NodeJS.Timeout | undefined;
      let killedFor: 'hang' | 'oom' | undefined;
      const memoryWatch = setInterval(() => {
        if (current >= 0 && rssMB(child.pid) > maxRss) {
          killedFor = 'oom';
          child.kill('SIGKILL');
        }
      }, 100);
      const sendNext = () => {
        if (next >= jobs.length) {
          current = -1;
          child.kill();
          return;
        }
        current = next++;
        started = Date.now();
        killedFor = undefined;
        const cpuAtStart = cpuMs(child.pid);
        // A hang is timeoutMs of CPU time: on a machine shared with other work a starved child gets more wall time
        // (up to 6× the limit) before it counts as hung.
        const check = () => {
          const used = cpuMs(child.pid) - cpuAtStart;
          const wall = Date.now() - started;
          if (cpuAtStart >= 0 && used < timeoutMs && wall < 6 * timeoutMs) {
            timer = setTimeout(check, Math.max(500, timeoutMs - used));
            return;
          }
          killedFor = 'hang';
          child.kill('SIGKILL');
        };
        timer = setTimeout(check, timeoutMs);
        child.send({ id: current, ...jobs[current] });
      };
      child = fork(WORKER, [], {
        cwd: path.resolve(__dirname, '..'),
        execArgv: ['--import', 'tsx', '--max-old-space-size=2048'],
        stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
      });
      child.stderr?.on('data', (d: Buffer) => { stderr = (stderr + d.toString()).slice(-2000); });
      child.on('message', (m: WorkerReply | { ready: true }) => {
        if ('ready' in m) return sendNext();
        if (m.id !== current) return;
        clearTimeout(timer);
        record(current, { outcome: m.outcome, stage: m.stage, description: m.description, message: m.message, ms: Date.now() - started });
        sendNext();
      });
      child.on('exit', (code, signal) => {
        clearTimeout(timer);
        clearInterval(memoryWatch);
        if (current >= 0) {
          const heapOut = /heap out of memory|Allocation failed/i.test(stderr);
          const outcome: Outcome = killedFor ?? (heapOut ? 'oom' : 'crash');
          record(current, {
            outcome,
            message: `worker ${killedFor ? `killed (${killedFor})` : `exited with ${signal ?? code}`}: ${stderr.trim().split('\n').slice(-3).join(' | ')}`,
            ms: Date.now() - started,
          });
          startSlot(); // a fresh child takes the remaining jobs
        }
      });
    };

    if (jobs.length === 0) resolve(results);
    for (let w = 0; w < workers; w++) startSlot();
  });
}

export interface FuzzCounts {
  cases: number;
  results: number;
  errors: number;
  crashes: number;
  hangs: number;
  ooms: number;
}

export function countOutcomes(outcomes: FuzzOutcome[]): FuzzCounts {
  const n = (o: Outcome) => outcomes.filter((x) => x.outcome === o).length;
  return { cases: outcomes.length, results: n('result'), errors: n('error'), crashes: n('crash'), hangs: n('hang'), ooms: n('oom') };
}

export function formatCounts(c: FuzzCounts): string {
  return `cases run ${c.cases}, clean errors ${c.errors}, results ${c.results}, crashes ${c.crashes}, hangs ${c.hangs}, out-of-memory ${c.ooms}`;
}

/** One line per bad case, with the command that replays it. */
export function describeFailures(outcomes: FuzzOutcome[]): string[] {
  return outcomes
    .filter((o) => o.outcome === 'crash' || o.outcome === 'hang' || o.outcome === 'oom')
    .map((o) =>
      `${o.outcome} [${path.basename(o.job.model)} ${o.job.strategy} seed ${o.job.seed}] ${o.description ?? ''} at ${o.stage ?? '?'}: ${o.message}\n` +
      `  replay: node --import tsx scripts/fuzz-long.ts ${o.job.kind === 'data' ? '--data' : `--model ${path.basename(o.job.model)}`} --strategy ${o.job.strategy} --seed ${o.job.seed}`);
}
