/**
 * What the benchmarks measure of a child process, read from /proc (Linux only): CPU time and peak RSS.
 * One reader so that every benchmark's figures mean the same thing.
 */
import { readdirSync, readFileSync } from 'node:fs';

const CLK_TCK = 100; // Linux USER_HZ

/** utime + stime of a process, seconds. */
export function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // The command name (field 2) may hold spaces and parentheses: count fields after its closing ')'.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / CLK_TCK;
}

/** Peak resident set (VmHWM) of a process, MB; NaN when /proc does not say. */
export function peakRssMb(pid: number): number {
  const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : NaN;
}

/**
 * The pid of the one process whose command line contains `fragment` (e.g. a unique temp directory it was
 * given), for children the benchmark did not spawn itself; undefined when none or several match.
 */
export function pidWithArgument(fragment: string): number | undefined {
  const found: number[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name) || Number(name) === process.pid) continue;
    try {
      if (readFileSync(`/proc/${name}/cmdline`, 'utf8').split('\0').some((arg) => arg.includes(fragment))) found.push(Number(name));
    } catch {
      // The process ended between readdir and read.
    }
  }
  return found.length === 1 ? found[0] : undefined;
}

/** Current resident set (VmRSS) of a process, MB; NaN when /proc does not say. */
export function rssMb(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : NaN;
}
