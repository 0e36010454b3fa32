/** Placeholder until this role lands; see the issue tracker. */
export async function main(_argv: string[]): Promise<number> {
  process.stderr.write('this command is not built yet\n');
  return 2;
}
