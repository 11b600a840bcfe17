/**
 * The graph's context menu on the page: role="menu" at the pointer (right-click) or under the node (Shift+F10, the
 * ContextMenu key), its entries and keys from graph-menu-model.ts, a submenu for the bits, themed with the
 * --vscode-menu-* colours (media/editor.css). Escape or a click outside closes it and focus goes back to the node.
 */
import { el } from './dom';
import { menuKey, type MenuAction, type MenuEntry, type MenuPath } from './graph-menu-model';

interface OpenMenu {
  close(refocus: boolean): void;
}

let current: OpenMenu | undefined;

/** Closes the open menu, if any (the page re-renders, the graph pans). */
export function closeNodeMenu(refocus = false): void {
  current?.close(refocus);
}

export interface MenuOptions {
  /** The menu's accessible name ('Actions for layer1.0.conv1'). */
  label: string;
  /** Where it opens, in viewport pixels. */
  at: { x: number; y: number };
  /** The node it belongs to: focus goes back to it. */
  owner: { focus(o?: FocusOptions): void };
  choose(a: MenuAction): void;
}

const ROLE_OF = { radio: 'menuitemradio', toggle: 'menuitemcheckbox' } as const;

function itemOf(e: MenuEntry, id: string): HTMLElement {
  const attrs: Record<string, string> = { role: e.choice ? ROLE_OF[e.choice] : 'menuitem', id, tabindex: '-1', class: `ctx-item${e.checked ? ' checked' : ''}`, 'data-entry': e.id };
  if (e.choice) attrs['aria-checked'] = e.checked ? 'true' : 'false';
  if (e.submenu) Object.assign(attrs, { 'aria-haspopup': 'menu', 'aria-expanded': 'false' });
  return el('div', attrs,
    el('span', { class: 'ctx-check', 'aria-hidden': 'true' }, e.checked ? '✓' : ''),
    el('span', { class: 'ctx-label' }, e.label),
    el('span', { class: 'ctx-arrow', 'aria-hidden': 'true' }, e.submenu ? '▸' : ''));
}

/** Keeps a fixed box inside the window. */
function keepInView(box: HTMLElement, x: number, y: number): void {
  const r = box.getBoundingClientRect();
  box.style.left = `${Math.max(0, Math.min(x, window.innerWidth - r.width - 4))}px`;
  box.style.top = `${Math.max(0, Math.min(y, window.innerHeight - r.height - 4))}px`;
}

/** Opens the menu with these entries (none: nothing opens); returns it. */
export function openNodeMenu(entries: MenuEntry[], opts: MenuOptions): HTMLElement | undefined {
  closeNodeMenu();
  if (entries.length === 0) return undefined;
  const menu = el('div', { id: 'graph-menu', class: 'ctx-menu', role: 'menu', 'aria-label': opts.label, 'aria-orientation': 'vertical' });
  const top = entries.map((e) => itemOf(e, `graph-menu-${e.id}`));
  menu.append(...top);
  let path: MenuPath = [0];
  let sub: { index: number; box: HTMLElement; items: HTMLElement[] } | undefined;

  const closeSub = () => {
    if (!sub) return;
    top[sub.index].setAttribute('aria-expanded', 'false');
    sub.box.remove();
    sub = undefined;
  };
  const openSub = (index: number) => {
    const entry = entries[index];
    const items = (entry.submenu ?? []).map((e) => itemOf(e, `graph-menu-${e.id}`));
    const box = el('div', { class: 'ctx-menu ctx-submenu', role: 'menu', id: `graph-menu-${entry.id}-menu`, 'aria-label': entry.label }, ...items);
    top[index].setAttribute('aria-expanded', 'true');
    top[index].setAttribute('aria-controls', box.id);
    document.body.append(box);
    const item = top[index].getBoundingClientRect(), parent = menu.getBoundingClientRect(), width = box.getBoundingClientRect().width;
    const fitsRight = parent.right + width <= window.innerWidth - 4;
    keepInView(box, fitsRight ? parent.right - 2 : parent.left - width + 2, item.top - 4); // beside the menu, left of it near the edge
    items.forEach((item, j) => wire(item, entry.submenu![j], [index, j]));
    sub = { index, box, items };
  };
  const show = (next: MenuPath) => {
    path = next;
    if (sub && (next.length === 1 || sub.index !== next[0])) {
      top[sub.index].focus({ preventScroll: true }); // before the focused submenu goes
      closeSub();
    }
    if (next.length === 2 && !sub) openSub(next[0]);
    const target = next.length === 2 ? sub!.items[next[1]] : top[next[0]];
    target.focus({ preventScroll: true });
  };
  const close = (refocus: boolean) => {
    if (current !== handle) return;
    current = undefined;
    document.removeEventListener('pointerdown', onOutside, true);
    window.removeEventListener('blur', onBlur);
    window.removeEventListener('resize', onBlur);
    window.removeEventListener('scroll', onBlur);
    closeSub();
    menu.remove();
    if (refocus) opts.owner.focus({ preventScroll: true });
  };
  const choose = (a: MenuAction) => {
    close(true);
    opts.choose(a);
  };
  const inMenu = (t: EventTarget | null) => t instanceof Node && (menu.contains(t) || !!sub?.box.contains(t));
  const onOutside = (e: Event) => { if (!inMenu(e.target)) close(false); };
  const onBlur = () => close(false);
  const onKey = (e: KeyboardEvent) => {
    const r = menuKey(entries, path, e.key);
    if (r.handled) { e.preventDefault(); e.stopPropagation(); }
    if (r.choose) choose(r.choose);
    else if (r.close) close(true);
    else if (r.path[0] !== path[0] || r.path[1] !== path[1] || r.path.length !== path.length) show(r.path);
  };
  function wire(item: HTMLElement, entry: MenuEntry, at: MenuPath): void {
    item.addEventListener('keydown', onKey);
    item.addEventListener('click', (e) => {
      e.stopPropagation();
      if (entry.submenu) show([at[0], Math.max(0, entry.submenu.findIndex((s) => s.checked))]);
      else if (entry.action) choose(entry.action);
    });
    item.addEventListener('mouseenter', () => {
      if (at.length === 1 && sub?.index === at[0]) return; // the entry whose submenu is open keeps it
      show(at);
    });
    item.addEventListener('contextmenu', (e) => e.preventDefault());
  }
  top.forEach((item, i) => wire(item, entries[i], [i]));
  const handle: OpenMenu = { close };
  current = handle;
  document.body.append(menu);
  keepInView(menu, opts.at.x, opts.at.y);
  document.addEventListener('pointerdown', onOutside, true);
  window.addEventListener('blur', onBlur);
  window.addEventListener('resize', onBlur);
  window.addEventListener('scroll', onBlur, { passive: true }); // the node moves away from a fixed menu
  show([0]);
  return menu;
}
