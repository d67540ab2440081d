/** `certaudit health`: placeholder until its issue lands; exits as a usage error so nothing pretends to work. */
export async function runHealth(_argv: string[]): Promise<number> {
  process.stderr.write('certaudit health: not implemented yet\n');
  return 2;
}
