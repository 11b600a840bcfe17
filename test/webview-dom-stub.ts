// A small DOM for webview modules under node:test: elements with attributes, classes, dataset, events that bubble,
// focus, simple selectors (tag, #id, .class, [attr], [attr="v"], descendant), and the webview's acquireVsCodeApi
// (its posted messages kept in `posted`). Import it before any webview module: state.ts asks for the API on load.

type Listener = (e: StubEvent) => void;

export class StubEvent {
  target: StubNode | null = null;
  currentTarget: StubNode | null = null;
  defaultPrevented = false;
  stopped = false;
  key = '';
  shiftKey = false;
  altKey = false;
  clientX = 0;
  clientY = 0;
  button = 0;
  constructor(readonly type: string, init: Partial<Pick<StubEvent, 'key' | 'shiftKey' | 'altKey' | 'clientX' | 'clientY' | 'button'>> = {}) {
    Object.assign(this, init);
  }
  preventDefault(): void { this.defaultPrevented = true; }
  stopPropagation(): void { this.stopped = true; }
}

class Listeners {
  private map = new Map<string, { fn: Listener; capture: boolean }[]>();
  add(type: string, fn: Listener, capture: boolean): void { this.map.set(type, [...(this.map.get(type) ?? []), { fn, capture }]); }
  remove(type: string, fn: Listener): void { this.map.set(type, (this.map.get(type) ?? []).filter((l) => l.fn !== fn)); }
  call(e: StubEvent, self: StubNode | StubTarget): void {
    for (const l of [...(this.map.get(e.type) ?? [])]) {
      e.currentTarget = self as StubNode;
      l.fn(e);
    }
  }
}

const captureOf = (o: unknown) => (typeof o === 'boolean' ? o : !!(o as { capture?: boolean } | undefined)?.capture);

class StubTarget {
  protected listeners = new Listeners();
  addEventListener(type: string, fn: Listener, o?: unknown): void { this.listeners.add(type, fn, captureOf(o)); }
  removeEventListener(type: string, fn: Listener): void { this.listeners.remove(type, fn); }
  dispatchEvent(e: StubEvent): boolean { e.target = null; this.listeners.call(e, this); return !e.defaultPrevented; }
}

export class StubNode extends StubTarget {
  parentNode: StubElement | null = null;
  childNodes: StubNode[] = [];
  get textContent(): string { return this.childNodes.map((c) => c.textContent).join(''); }
  get isConnected(): boolean {
    let n: StubNode | null = this;
    while (n.parentNode) n = n.parentNode;
    return n === stubDocument.documentElement;
  }
  contains(other: StubNode | null): boolean {
    for (let n = other; n; n = n.parentNode) if (n === this) return true;
    return false;
  }
  remove(): void {
    const p = this.parentNode;
    if (!p) return;
    p.childNodes = p.childNodes.filter((c) => c !== this);
    this.parentNode = null;
    if (stubDocument.activeElement && this.contains(stubDocument.activeElement)) stubDocument.activeElement = stubDocument.body;
  }
  override dispatchEvent(e: StubEvent): boolean {
    e.target = this;
    if (this.isConnected) stubDocument.captureCall(e); // the document's listeners first, as capturing ones
    for (let n: StubNode | null = this; n && !e.stopped; n = n.parentNode) n.listeners.call(e, n);
    return !e.defaultPrevented;
  }
}

class StubText extends StubNode {
  constructor(private text: string) { super(); }
  override get textContent(): string { return this.text; }
}

interface Compound { tag?: string; id?: string; classes: string[]; attrs: { name: string; value?: string }[] }

function parseCompound(s: string): Compound {
  const c: Compound = { classes: [], attrs: [] };
  const re = /^([a-zA-Z][\w-]*)|#([\w-]+)|\.([\w-]+)|\[([\w-]+)(?:="([^"]*)")?\]/g;
  let m: RegExpExecArray | null;
  let used = 0;
  while ((m = re.exec(s))) {
    if (m[0] === '') break;
    used += m[0].length;
    if (m[1]) c.tag = m[1].toLowerCase();
    else if (m[2]) c.id = m[2];
    else if (m[3]) c.classes.push(m[3]);
    else c.attrs.push({ name: m[4], value: m[5] });
  }
  if (used !== s.length) throw new Error(`stub DOM: unsupported selector '${s}'`);
  return c;
}

function splitSelector(sel: string): string[] {
  const parts: string[] = [];
  let cur = '', quoted = false;
  for (const ch of sel.trim()) {
    if (ch === '"') quoted = !quoted;
    if (/\s/.test(ch) && !quoted) { if (cur) parts.push(cur); cur = ''; } else cur += ch;
  }
  if (cur) parts.push(cur);
  return parts;
}

function matchesCompound(e: StubElement, c: Compound): boolean {
  if (c.tag && e.localName !== c.tag) return false;
  if (c.id && e.getAttribute('id') !== c.id) return false;
  if (c.classes.some((k) => !e.classList.contains(k))) return false;
  return c.attrs.every((a) => (a.value === undefined ? e.hasAttribute(a.name) : e.getAttribute(a.name) === a.value));
}

function matchesSelector(e: StubElement, sel: string): boolean {
  return sel.split(',').some((one) => {
    const parts = splitSelector(one).map(parseCompound);
    if (!matchesCompound(e, parts[parts.length - 1])) return false;
    let i = parts.length - 2;
    for (let n = e.parentNode; n && i >= 0; n = n.parentNode) if (matchesCompound(n, parts[i])) i--;
    return i < 0;
  });
}

const kebab = (k: string) => k.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);

export class StubElement extends StubNode {
  private attributes = new Map<string, string>();
  readonly style: Record<string, string> = {};
  value = '';
  checked = false;
  disabled = false;
  readonly localName: string;
  constructor(tag: string, readonly namespaceURI?: string) {
    super();
    this.localName = tag.toLowerCase();
  }
  get tagName(): string { return this.localName.toUpperCase(); }
  get id(): string { return this.getAttribute('id') ?? ''; }
  set id(v: string) { this.setAttribute('id', v); }
  get hidden(): boolean { return this.hasAttribute('hidden'); }
  set hidden(v: boolean) { if (v) this.setAttribute('hidden', ''); else this.removeAttribute('hidden'); }
  get title(): string { return this.getAttribute('title') ?? ''; }
  set title(v: string) { this.setAttribute('title', v); }
  get children(): StubElement[] { return this.childNodes.filter((c): c is StubElement => c instanceof StubElement); }
  get firstElementChild(): StubElement | null { return this.children[0] ?? null; }
  setAttribute(k: string, v: string): void { this.attributes.set(k, String(v)); }
  getAttribute(k: string): string | null { return this.attributes.get(k) ?? null; }
  hasAttribute(k: string): boolean { return this.attributes.has(k); }
  removeAttribute(k: string): void { this.attributes.delete(k); }
  get classList() {
    const read = () => (this.getAttribute('class') ?? '').split(/\s+/).filter(Boolean);
    const write = (l: string[]) => this.setAttribute('class', [...new Set(l)].join(' '));
    return {
      contains: (c: string) => read().includes(c),
      add: (...c: string[]) => write([...read(), ...c]),
      remove: (...c: string[]) => write(read().filter((x) => !c.includes(x))),
      toggle: (c: string, force?: boolean) => {
        const on = force ?? !read().includes(c);
        write(on ? [...read(), c] : read().filter((x) => x !== c));
        return on;
      },
    };
  }
  get dataset(): Record<string, string | undefined> {
    return new Proxy({}, {
      get: (_t, k) => (typeof k === 'string' ? this.getAttribute(`data-${kebab(k)}`) ?? undefined : undefined),
      set: (_t, k, v) => { this.setAttribute(`data-${kebab(String(k))}`, String(v)); return true; },
    });
  }
  append(...nodes: (StubNode | string)[]): void {
    for (const n of nodes) {
      const node = typeof n === 'string' ? new StubText(n) : n;
      node.remove();
      node.parentNode = this;
      this.childNodes.push(node);
    }
  }
  replaceChildren(...nodes: (StubNode | string)[]): void {
    for (const c of [...this.childNodes]) c.remove();
    this.append(...nodes);
  }
  replaceWith(n: StubNode): void {
    const p = this.parentNode;
    if (!p) return;
    n.remove();
    p.childNodes = p.childNodes.map((c) => (c === this ? n : c));
    n.parentNode = p;
    this.parentNode = null;
  }
  after(n: StubNode): void {
    const p = this.parentNode;
    if (!p) return;
    n.remove();
    p.childNodes.splice(p.childNodes.indexOf(this) + 1, 0, n);
    n.parentNode = p;
  }
  matches(sel: string): boolean { return sel === ':focus-visible' ? stubDocument.activeElement === this : matchesSelector(this, sel); }
  querySelectorAll(sel: string): StubElement[] {
    const out: StubElement[] = [];
    const walk = (e: StubElement) => { for (const c of e.children) { if (matchesSelector(c, sel)) out.push(c); walk(c); } };
    walk(this);
    return out;
  }
  querySelector(sel: string): StubElement | null { return this.querySelectorAll(sel)[0] ?? null; }
  focus(): void {
    const was = stubDocument.activeElement;
    if (was === this) return;
    stubDocument.activeElement = this;
    if (was && was !== stubDocument.body) was.dispatchEvent(new StubEvent('blur'));
    this.dispatchEvent(new StubEvent('focus'));
  }
  blur(): void { if (stubDocument.activeElement === this) stubDocument.activeElement = stubDocument.body; }
  click(): void { this.dispatchEvent(new StubEvent('click')); }
  scrollIntoView(): void {}
  getBoundingClientRect() { return { left: 10, top: 20, right: 110, bottom: 40, width: 100, height: 20, x: 10, y: 20 }; }
}

class StubDocument extends StubTarget {
  readonly documentElement = new StubElement('html');
  readonly body = new StubElement('body');
  activeElement: StubElement | null = this.body;
  constructor() {
    super();
    this.documentElement.append(this.body);
  }
  captureCall(e: StubEvent): void { this.listeners.call(e, this); }
  createElement(tag: string): StubElement { return new StubElement(tag); }
  createElementNS(ns: string, tag: string): StubElement { return new StubElement(tag, ns); }
  createTextNode(t: string): StubNode { return new StubText(t); }
  getElementById(id: string): StubElement | null { return this.documentElement.querySelector(`#${id}`); }
  querySelectorAll(sel: string): StubElement[] { return this.documentElement.querySelectorAll(sel); }
  querySelector(sel: string): StubElement | null { return this.documentElement.querySelector(sel); }
}

class StubWindow extends StubTarget {
  innerWidth = 1200;
  innerHeight = 800;
  scrollY = 0;
  scrollTo(): void {}
}

export const stubDocument = new StubDocument();
export const stubWindow = new StubWindow();
/** Every message the page posted to the host. */
export const posted: unknown[] = [];
let vsState: unknown;

const g = globalThis as Record<string, unknown>;
g.document = stubDocument;
g.window = stubWindow;
g.Node = StubNode;
g.HTMLElement = StubElement;
g.CSS = { escape: (s: string) => s.replace(/["\\]/g, '\\$&') };
g.requestAnimationFrame = (f: () => void) => { f(); return 0; };
g.acquireVsCodeApi = () => ({ postMessage: (m: unknown) => posted.push(m), getState: () => vsState, setState: (s: unknown) => { vsState = s; } });

/** A key press on the focused element (or `on`), as the browser sends it. */
export function pressKey(key: string, opts: { shiftKey?: boolean; on?: StubElement } = {}): StubEvent {
  const e = new StubEvent('keydown', { key, shiftKey: opts.shiftKey ?? false });
  (opts.on ?? stubDocument.activeElement ?? stubDocument.body).dispatchEvent(e);
  return e;
}
