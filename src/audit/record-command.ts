/** `certaudit record`: placeholder until its issue lands; exits as a usage error so nothing pretends to work. */
export async function runRecord(_argv: string[]): Promise<number> {
  process.stderr.write('certaudit record: not implemented yet\n');
  return 2;
}
