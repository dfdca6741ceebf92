import yaml from 'js-yaml';
import { defaultClusterYaml } from '../../src/config/index.js';

/** The embedded lab grown to one master and `workers` workers on 10.20.0.0/16 (each with a MAC). */
export function farmYaml(workers: number, name = 'farm'): string {
  const doc = yaml.load(defaultClusterYaml()) as any;
  doc.cluster.name = name;
  doc.network = { prefix: 16, gateway: '10.20.0.1', dns: ['10.20.0.1'], interface: 'ens192' };
  const mac = (i: number) => `00:50:56:3f:${((i >> 8) & 0xff).toString(16).padStart(2, '0')}:${(i & 0xff).toString(16).padStart(2, '0')}`;
  const ip = (i: number) => `10.20.${1 + Math.floor(i / 250)}.${1 + (i % 250)}`;
  doc.nodes = [{ name: 'master', role: 'master', ip: '10.20.0.10', mac: mac(0) }];
  for (let i = 1; i <= workers; i++) doc.nodes.push({ name: `node${String(i).padStart(4, '0')}`, role: 'node', ip: ip(i), mac: mac(i) });
  return yaml.dump(doc, { lineWidth: -1 });
}
