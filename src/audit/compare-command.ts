/** `certaudit compare`: placeholder until its issue lands; exits as a usage error so nothing pretends to work. */
export async function runCompare(_argv: string[]): Promise<number> {
  process.stderr.write('certaudit compare: not implemented yet\n');
  return 2;
}
