/** The one tooltip of the page (#tooltip): shown on hover and on keyboard focus, below the target. */
import { el } from './dom';
import { moduleName, resultOf } from './state';
import { formatDb, layerErrorLine } from '../src/extension/results';

const tooltip = () => document.getElementById('tooltip')!;

/**
 * Shows `content()` for `target` while it is hovered or (unless `focus` is false) focused. Pass false for SVG
 * elements that should stay out of the Tab order: Chromium makes any SVG element with a focus listener focusable.
 */
export function attachTooltip(target: Element, content: () => (Node | string)[], focus = true): void {
  const show = () => {
    const tip = tooltip();
    tip.replaceChildren(...content());
    tip.hidden = false;
    const box = target.getBoundingClientRect();
    tip.style.left = `${Math.min(window.innerWidth - 320, Math.max(4, box.left))}px`;
    tip.style.top = `${box.bottom + 4 + window.scrollY}px`;
    target.setAttribute('aria-describedby', 'tooltip');
  };
  const hide = () => {
    tooltip().hidden = true;
  };
  target.addEventListener('mouseenter', show);
  target.addEventListener('mouseleave', hide);
  if (!focus) return;
  target.addEventListener('focus', show);
  target.addEventListener('blur', hide);
}

/** A layer's tooltip: its module name, its error line (bits, output and weight SQNR, Δacc) and its local SQNR. */
export function layerTooltip(layer: string): (Node | string)[] {
  const r = resultOf(layer);
  if (!r) return [el('strong', {}, moduleName(layer)), el('br'), 'not quantized yet'];
  return [el('strong', {}, moduleName(layer)), el('br'), layerErrorLine(r), el('br'), `local SQNR ${formatDb(r.localSqnrDb)} (this layer alone)`];
}

export function hideTooltip(): void {
  tooltip().hidden = true;
}
