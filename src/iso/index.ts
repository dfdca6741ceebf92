/**
 * ISO 9660 images for seeds (cloud-init `cidata`, kickstart `OEMDRV`): a built-in,
 * deterministic writer (ECMA-119 + Rock Ridge + Joliet), or an external tool.
 */
import { UserError } from '../errors.js';
import { writeIsoExternal } from './external.js';
import { IsoOptions, validateIsoOptions } from './types.js';
import { buildImage } from './writer.js';

export type { IsoFile, IsoOptions } from './types.js';
export { missingToolMessage, TOOL_PACKAGES } from './external.js';

export type IsoTool = 'builtin' | 'xorriso' | 'genisoimage';
export const ISO_TOOLS: readonly IsoTool[] = ['builtin', 'xorriso', 'genisoimage'];

/** Build the image in memory. Pure: the same options always give the same bytes. Throws UserError on bad input. */
export function writeIso(opts: IsoOptions): Uint8Array {
  return buildImage(validateIsoOptions(opts));
}

/**
 * Build the image with the built-in writer or by running xorriso / genisoimage
 * (`-V label -J -r`, dates pinned to `epoch` as far as the tool allows; genisoimage
 * still stamps the volume descriptors with the current time). A missing tool
 * throws a UserError naming the package to install.
 */
export async function writeIsoWith(tool: IsoTool, opts: IsoOptions): Promise<Uint8Array> {
  const valid = validateIsoOptions(opts);
  switch (tool) {
    case 'builtin':
      return buildImage(valid);
    case 'xorriso':
    case 'genisoimage':
      return writeIsoExternal(tool, valid);
    default:
      throw new UserError(`unknown ISO tool ${JSON.stringify(tool)}: use one of ${ISO_TOOLS.join(', ')}`);
  }
}
