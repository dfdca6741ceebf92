import Mustache from 'mustache';
import { readAsset } from './assets.js';

// mustache HTML-escapes {{x}} by default (& -> &amp;, = -> &#x3D;), which would corrupt shell and
// kickstart lines. Every value is validated upstream, so escaping is turned off once, here.
Mustache.escape = (text: string) => text;

/** Render a template shipped under kickstart/ or cloud-init/ (path relative to the package root). */
export function renderTemplate(relativePath: string, view: object): string {
  return Mustache.render(readAsset(relativePath), view);
}
