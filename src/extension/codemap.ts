/**
 * Maps ONNX node names to PyTorch module paths, and module paths to the lines of the Python class definitions
 * that create them. Pure: no VS Code, no file system.
 */

/** `/layer1/layer1.0/conv1/Conv` → `layer1.0.conv1`; `/features/features.3/conv/conv.3/Conv` → `features.3.conv.3`. */
export function modulePathFromNodeName(nodeName: string): string | undefined {
  if (!nodeName.startsWith('/')) return undefined;
  const scopes = nodeName.split('/').filter(Boolean).slice(0, -1); // the last part is the op (Conv, Gemm, MatMul_1)
  return scopes.length ? joinScopes(scopes) : undefined;
}

/** Torch scope names repeat the parent's local name for Sequential members (`layer1.0` under `layer1`). */
function joinScopes(scopes: string[]): string {
  const path: string[] = [];
  for (const scope of scopes) {
    const last = path[path.length - 1];
    const full = path.join('.');
    if (full && scope.startsWith(full + '.')) path.push(...scope.slice(full.length + 1).split('.'));
    else if (last !== undefined && scope.startsWith(last + '.')) path.push(...scope.slice(last.length + 1).split('.'));
    else path.push(...scope.split('.'));
  }
  return path.join('.');
}

/** Module path from the node metadata written by torch.onnx's dynamo exporter, when present. */
export function modulePathFromMetadata(metadata: Record<string, string> | undefined): string | undefined {
  if (!metadata) return undefined;
  const scopes = metadata['pkg.torch.onnx.name_scopes'];
  if (scopes) {
    const names = parseListText(scopes).filter((s) => s !== '');
    if (names.length) return names[names.length - 1];
  }
  const ns = metadata['namespace'];
  if (ns) {
    // ": __main__.ResNet/layer1: torch.nn.Sequential/layer1.0: __main__.BasicBlock/conv1: torch.nn.Conv2d/conv2d: aten.convolution.default"
    const parts = ns.split('/').map((p) => p.split(':')[0].trim()).filter(Boolean);
    const modules = parts.slice(0, -1); // the last scope is the aten op
    if (modules.length) return joinScopes(modules);
  }
  return undefined;
}

function parseListText(text: string): string[] {
  try {
    const v = JSON.parse(text.replace(/'/g, '"'));
    if (Array.isArray(v)) return v.map(String);
  } catch {
    /* not JSON: fall through */
  }
  return text.replace(/^\[|\]$/g, '').split(',').map((s) => s.trim().replace(/^['"]|['"]$/g, ''));
}

/** Where the exporter says a node's forward code is (`File "x.py", line 12`), from pkg.torch.onnx.stack_trace. */
export function forwardLocationFromMetadata(metadata: Record<string, string> | undefined): { file: string; line: number } | undefined {
  const trace = metadata?.['pkg.torch.onnx.stack_trace'];
  if (!trace) return undefined;
  const matches = [...trace.matchAll(/File "([^"]+)", line (\d+)/g)];
  const m = matches[matches.length - 1];
  return m ? { file: m[1], line: Number(m[2]) - 1 } : undefined;
}

export function modulePathOf(nodeName: string, metadata?: Record<string, string>): string | undefined {
  return modulePathFromMetadata(metadata) ?? modulePathFromNodeName(nodeName);
}

/** One `self.name = Expr(...)` in a class body, or one member of an `nn.Sequential(...)` literal. */
export interface ModuleAttribute {
  name: string;
  /** 0-based line of the assignment (or of the Sequential member). */
  line: number;
  /** Column where `self.name` (or the member) starts. */
  column: number;
  /** Called constructor: `nn.Conv2d`, `BasicBlock`, `self._make_layer`, ... */
  constructorName: string;
  /** Members of an `nn.Sequential(...)` written out in place, by index. */
  members?: ModuleAttribute[];
}

export interface PythonClass {
  name: string;
  line: number;
  bases: string[];
  attributes: Map<string, ModuleAttribute>;
}

const CLASS_RE = /^class\s+([A-Za-z_]\w*)\s*(?:\(([^)]*)\))?\s*:/;
const ASSIGN_RE = /^(\s+)self\.([A-Za-z_]\w*)\s*=\s*([A-Za-z_][\w.]*)\s*\(/;

/** Finds classes and their `self.x = Ctor(...)` assignments (first assignment of each name wins). */
export function parsePythonClasses(source: string): PythonClass[] {
  const lines = source.split(/\r?\n/);
  const classes: PythonClass[] = [];
  let current: PythonClass | undefined;
  for (let i = 0; i < lines.length; i++) {
    const text = lines[i];
    const cls = CLASS_RE.exec(text);
    if (cls) {
      current = { name: cls[1], line: i, bases: (cls[2] ?? '').split(',').map((b) => b.trim()).filter(Boolean), attributes: new Map() };
      classes.push(current);
      continue;
    }
    if (current && /^\S/.test(text) && !text.startsWith('#')) current = undefined; // dedent to module level ends the class
    if (!current) continue;
    const a = ASSIGN_RE.exec(text);
    if (!a || current.attributes.has(a[2])) continue;
    const attr: ModuleAttribute = { name: a[2], line: i, column: a[1].length, constructorName: a[3] };
    if (/(^|\.)Sequential$/.test(a[3])) attr.members = sequentialMembers(lines, i, text.indexOf('(', a[0].length - 1));
    current.attributes.set(a[2], attr);
  }
  return classes;
}

/** Members of `nn.Sequential(a(...), b(...))` starting at the given '(' — one per top-level argument. */
function sequentialMembers(lines: string[], line: number, openCol: number): ModuleAttribute[] {
  const members: ModuleAttribute[] = [];
  let depth = 0;
  let expectArg = false;
  for (let i = line; i < lines.length && i < line + 200; i++) {
    const text = lines[i];
    for (let c = i === line ? openCol : 0; c < text.length; c++) {
      const ch = text[c];
      if (ch === '#') break;
      if (ch === '(' || ch === '[' || ch === '{') {
        depth++;
        if (depth === 1) expectArg = true;
        continue;
      }
      if (ch === ')' || ch === ']' || ch === '}') {
        depth--;
        if (depth === 0) return members;
        continue;
      }
      if (depth === 1 && ch === ',') {
        expectArg = true;
        continue;
      }
      if (depth === 1 && expectArg && /\S/.test(ch)) {
        expectArg = false;
        if (text.startsWith('*', c)) continue; // *layers: members unknown
        const ctor = /^[A-Za-z_][\w.]*/.exec(text.slice(c))?.[0] ?? '';
        members.push({ name: String(members.length), line: i, column: c, constructorName: ctor });
      }
    }
  }
  return members;
}

export interface CodeLocation {
  file: string;
  line: number;
  column: number;
  className: string;
  attribute: string;
}

export interface SourceFile {
  file: string;
  classes: PythonClass[];
}

/** The class whose attributes cover most of the top-level module names (the model's root module). */
export function findRootClass(files: readonly SourceFile[], topLevelNames: readonly string[]): { file: string; cls: PythonClass } | undefined {
  let best: { file: string; cls: PythonClass; score: number } | undefined;
  for (const f of files) {
    for (const cls of f.classes) {
      const score = topLevelNames.filter((n) => cls.attributes.has(n)).length;
      if (score > 0 && (!best || score > best.score)) best = { file: f.file, cls, score };
    }
  }
  return best && { file: best.file, cls: best.cls };
}

/**
 * Locates the line that creates a module path (`layer1.0.conv1`), walking from the root class through attribute
 * constructors; where the type is not known (a `_make_layer` helper building blocks), the next name is looked up in
 * the other classes of the workspace.
 */
export function locateModule(files: readonly SourceFile[], root: { file: string; cls: PythonClass }, modulePath: string): CodeLocation | undefined {
  const classes = files.flatMap((f) => f.classes.map((cls) => ({ file: f.file, cls })));
  const byName = new Map(classes.map((c) => [c.cls.name, c]));
  const visited = new Set<PythonClass>([root.cls]);
  let scope: { file: string; cls: PythonClass } | undefined = root;
  let found: CodeLocation | undefined;
  let sequential: ModuleAttribute[] | undefined;
  for (const part of modulePath.split('.')) {
    if (/^\d+$/.test(part)) {
      const member = sequential?.[Number(part)];
      sequential = undefined;
      if (member && found) {
        found = { ...found, line: member.line, column: member.column };
        scope = byName.get(lastName(member.constructorName));
      } else scope = undefined; // built by a helper: type unknown
      continue;
    }
    const owner: { file: string; cls: PythonClass } | undefined = scope?.cls.attributes.has(part)
      ? scope
      : classes.find((c) => !visited.has(c.cls) && c.cls.attributes.has(part)) ?? classes.find((c) => c.cls.attributes.has(part));
    if (!owner) return found;
    visited.add(owner.cls);
    const attr = owner.cls.attributes.get(part)!;
    found = { file: owner.file, line: attr.line, column: attr.column, className: owner.cls.name, attribute: part };
    sequential = attr.members;
    scope = byName.get(lastName(attr.constructorName));
  }
  return found;
}

function lastName(dotted: string): string {
  return dotted.slice(dotted.lastIndexOf('.') + 1);
}

export interface LayerLocation extends CodeLocation {
  layer: string;
  modulePath: string;
}

/** Maps every layer (ONNX node name) to its module path and definition line. */
export function mapLayersToCode(
  layers: readonly { name: string; metadata?: Record<string, string> }[],
  files: readonly SourceFile[],
): LayerLocation[] {
  const paths = layers.map((l) => ({ layer: l.name, modulePath: modulePathOf(l.name, l.metadata) }));
  const topLevel = [...new Set(paths.flatMap((p) => (p.modulePath ? [p.modulePath.split('.')[0]] : [])))];
  const root = findRootClass(files, topLevel);
  if (!root) return [];
  const out: LayerLocation[] = [];
  for (const p of paths) {
    if (!p.modulePath) continue;
    const loc = locateModule(files, root, p.modulePath);
    if (loc) out.push({ ...loc, layer: p.layer, modulePath: p.modulePath });
  }
  return out;
}
