#!/usr/bin/env node
import 'reflect-metadata';
import { Command, CommanderError, Option } from 'commander';
import { UserError } from './errors.js';
import { toolVersion } from './assets.js';
import { stdio } from './commands/common.js';
import { validate } from './commands/validate.js';
import { init } from './commands/init.js';
import { schema } from './commands/schema.js';

const program = new Command('k8s-image')
  .description('Turn a cluster description into CentOS 7 kickstart files, cloud-init seeds, seed ISOs and first-boot\nscripts that kubeadm init the master and kubeadm join every other node, with no hands on them.')
  .version(toolVersion())
  .showHelpAfterError('(run with --help for usage)')
  .exitOverride();

const configOption = () => new Option('-c, --config <file>', 'cluster description (default: the embedded seed-000 lab)');

program
  .command('init')
  .description('write a commented starting cluster.yaml (the lab, or the HA layout with --ha)')
  .option('--ha', 'three masters, two workers and a load balancer (seed 004)')
  .option('-o, --out <file>', 'where to write it (default: stdout)')
  .option('-f, --force', 'overwrite an existing file')
  .action((o) => init(o, stdio));

program
  .command('validate')
  .description('check a cluster description and print its nodes, or every problem found (exit 2)')
  .addOption(configOption())
  .option('--json', 'machine-readable result on stdout')
  .action((o) => validate(o, stdio));

program
  .command('schema')
  .description('print the JSON Schema of cluster.yaml for editors')
  .action((o) => schema(o, stdio));

export async function main(argv: string[]): Promise<number> {
  try {
    await program.parseAsync(argv);
    return 0;
  } catch (e) {
    if (e instanceof CommanderError) return e.exitCode === 0 ? 0 : 2;
    if (e instanceof UserError) {
      for (const p of e.problems) process.stderr.write(`error: ${p}\n`);
      return 2;
    }
    process.stderr.write(`k8s-image: internal error (a bug; please report it with this trace):\n${(e as Error).stack ?? String(e)}\n`);
    return 1;
  }
}

process.exitCode = await main(process.argv);
