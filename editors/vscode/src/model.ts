// Pure logic of the extension: the shapes dbl answers with, the lineage tree model and the texts
// shown to the user. No `vscode` import here, so node:test runs it without an editor.

export interface LspPosition {
  line: number;
  character: number;
}

export interface LspLocation {
  uri: string;
  range: { start: LspPosition; end: LspPosition };
}

/** One neighbour in a `databuild/upstream` or `databuild/downstream` answer. */
export interface NeighbourItem {
  ref: string;
  uuid: string;
  state: string;
  jobRunId: string | null;
  locations: LspLocation[];
}

export type Direction = 'upstream' | 'downstream';

/** A `databuild/upstream` / `databuild/downstream` answer. */
export interface Neighbours {
  data: {
    ref: string;
    /** The current instance. */
    uuid: string;
    state: string;
    /** The instance whose neighbours are listed (differs from `uuid` while a rebuild is in flight). */
    lineageUuid?: string;
    direction: Direction;
    items: NeighbourItem[];
    more: number;
  };
  index: {
    partitions: Record<string, { ref: string; state: string; builtBy?: string | null }>;
    jobRuns: Record<string, { jobLabel: string; status: string }>;
  };
}

/** A node of the lineage panel. */
export interface TreeNode {
  id: string;
  kind: 'focus' | 'group' | 'item' | 'more' | 'message';
  label: string;
  description?: string;
  tooltip?: string;
  icon?: string;
  ref?: string;
  /** For groups and items: which way expanding this node walks. */
  direction?: Direction;
  expandable: boolean;
  location?: LspLocation;
}

/** The codicon for a partition state. */
export function stateIcon(state: string): string {
  switch (state) {
    case 'Live':
      return 'pass';
    case 'Building':
      return 'sync';
    case 'Failed':
      return 'error';
    case 'DepMiss':
      return 'warning';
    case 'Canceled':
      return 'circle-slash';
    case 'Tainted':
      return 'flame';
    case 'External':
      return 'cloud';
    default:
      return 'circle-outline';
  }
}

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}

/** The top of the panel for a focus ref: the ref itself, then its upstream and downstream groups. */
export function focusNodes(up: Neighbours, down: Neighbours): TreeNode[] {
  const focus = up.data;
  const builtBy = up.index.partitions[focus.uuid]?.builtBy;
  const run = builtBy ? up.index.jobRuns[builtBy] : undefined;
  const upCount = up.data.items.length + up.data.more;
  const downCount = down.data.items.length + down.data.more;
  return [
    {
      id: `focus:${focus.ref}`,
      kind: 'focus',
      label: focus.ref,
      description: focus.state,
      tooltip: [
        `${focus.ref} — ${focus.state}`,
        `UUID ${focus.uuid}`,
        builtBy && run ? `built by ${builtBy} (${run.jobLabel}) — ${run.status}` : 'external source',
        ...(focus.lineageUuid && focus.lineageUuid !== focus.uuid
          ? [`lineage below is of the last built instance ${focus.lineageUuid}`]
          : []),
      ].join('\n'),
      icon: stateIcon(focus.state),
      ref: focus.ref,
      expandable: false,
    },
    {
      id: `group:upstream:${focus.ref}`,
      kind: 'group',
      label: 'Upstream',
      description: plural(upCount, 'input'),
      icon: 'arrow-up',
      ref: focus.ref,
      direction: 'upstream',
      expandable: upCount > 0,
    },
    {
      id: `group:downstream:${focus.ref}`,
      kind: 'group',
      label: 'Downstream',
      description: plural(downCount, 'consumer'),
      icon: 'arrow-down',
      ref: focus.ref,
      direction: 'downstream',
      expandable: downCount > 0,
    },
  ];
}

/** The children of a group or item: the neighbours in `result`, then "+N more" if truncated. */
export function neighbourNodes(result: Neighbours, parentId: string): TreeNode[] {
  const direction = result.data.direction;
  const nodes: TreeNode[] = result.data.items.map((item) => {
    const run = item.jobRunId ? result.index.jobRuns[item.jobRunId] : undefined;
    const via = item.jobRunId
      ? `built by ${item.jobRunId}${run ? ` (${run.jobLabel})` : ''}`
      : 'external source';
    const where = item.locations.length
      ? `appears in ${plural(item.locations.length, 'place')}`
      : 'not mentioned in the workspace';
    return {
      id: `${parentId}/${item.ref}`,
      kind: 'item',
      label: item.ref,
      description: `${item.state} · ${via}`,
      tooltip: `${item.ref} — ${item.state}\nUUID ${item.uuid}\n${via}\n${where}`,
      icon: stateIcon(item.state),
      ref: item.ref,
      direction,
      expandable: true,
      location: item.locations[0],
    };
  });
  if (result.data.more > 0) {
    nodes.push({
      id: `${parentId}/+more`,
      kind: 'more',
      label: `+${result.data.more} more`,
      tooltip: 'Raise databuild.fanoutLimit to list more',
      expandable: false,
    });
  }
  return nodes;
}

/** What the panel shows when there is nothing to show. */
export function messageNode(text: string): TreeNode {
  return { id: `message:${text}`, kind: 'message', label: text, expandable: false };
}

/** The part of a `databuild/status` answer that the status bar uses. */
export interface Status {
  loading?: boolean;
  waitingForFile?: boolean;
  eventsApplied?: number;
  logPath?: string | null;
  lastError?: string | { message?: string } | null;
  ioError?: string | null;
  diagnosticCount?: number;
  /** The base URL of the daemon's web pages, when it was started with `--listen` (and no token). */
  pages?: string | null;
}

function errorText(e: Status['lastError']): string | undefined {
  if (!e) return undefined;
  return typeof e === 'string' ? e : e.message ?? JSON.stringify(e);
}

/** The status bar item for a `databuild/status` answer (or for a daemon that is not running). */
export function formatStatus(status: Status | undefined, failure?: string): { text: string; tooltip: string; error: boolean } {
  if (failure !== undefined) {
    return { text: '$(error) dbl: not running', tooltip: `dbl: ${failure}`, error: true };
  }
  if (!status) {
    return { text: '$(sync~spin) dbl: starting', tooltip: 'dbl serve is starting', error: false };
  }
  const events = (status.eventsApplied ?? 0).toLocaleString('en-US');
  const log = status.logPath ?? '(no log)';
  const problem = errorText(status.lastError) ?? status.ioError ?? undefined;
  const diagnostics = status.diagnosticCount ? `\n${plural(status.diagnosticCount, 'diagnostic')}` : '';
  if (problem) {
    return { text: `$(error) dbl: ${events} events, error`, tooltip: `${log}\n${problem}${diagnostics}`, error: true };
  }
  if (status.waitingForFile) {
    return { text: '$(watch) dbl: waiting for log', tooltip: `${log} does not exist yet`, error: false };
  }
  if (status.loading) {
    return { text: `$(sync~spin) dbl: loading ${events} events`, tooltip: `loading ${log}`, error: false };
  }
  return { text: `$(database) dbl: ${events} events`, tooltip: `${log}: ${events} events applied${diagnostics}`, error: false };
}

/** The ref a command was invoked with: a string, `[ref]`, or `{ref}`. */
export function refArgument(arg: unknown): string | undefined {
  if (typeof arg === 'string' && arg.length > 0) return arg;
  if (Array.isArray(arg)) return refArgument(arg[0]);
  if (arg && typeof arg === 'object' && 'ref' in arg) return refArgument((arg as { ref: unknown }).ref);
  return undefined;
}

/**
 * The payload of a `databuild/lineageChanged` notification: jsonrpsee sends
 * `{subscription, result}`, a plain notification sends the notice itself.
 */
export function noticeOf(params: unknown): { kind?: string } | undefined {
  if (!params || typeof params !== 'object') return undefined;
  const p = params as { result?: unknown; kind?: unknown };
  if (p.result && typeof p.result === 'object') return p.result as { kind?: string };
  return typeof p.kind === 'string' ? (p as { kind: string }) : undefined;
}

/** Whether a notice means the panel should be queried again. */
export function needsRefresh(notice: { kind?: string } | undefined): boolean {
  return notice?.kind === 'changed' || notice?.kind === 'reset' || notice?.kind === 'lagged';
}

/** The refs the panel shows, which its subscription filters on. */
export function refsShown(up: Neighbours, down: Neighbours): string[] {
  const refs = new Set<string>([up.data.ref]);
  for (const item of [...up.data.items, ...down.data.items]) refs.add(item.ref);
  return [...refs].sort();
}

/** Label of a quick-pick entry for a neighbour. */
export function pickLabel(item: NeighbourItem): { label: string; description: string; detail: string } {
  const where = item.locations[0];
  return {
    label: item.ref,
    description: item.state + (item.jobRunId ? ` · ${item.jobRunId}` : ''),
    detail: where
      ? `${decodeURIComponent(where.uri.replace(/^file:\/\//, ''))}:${where.range.start.line + 1}` +
        (item.locations.length > 1 ? ` (+${item.locations.length - 1} more)` : '')
      : 'not mentioned in the open documents or workspace',
  };
}

/**
 * The arguments of `dbl` for the language server (vscode-languageclient appends `--stdio`): through the
 * shared daemon for the log (`--remote auto`, one state for every window) unless turned off, no log is
 * configured (the editor's `eventLog` setting, if any, is then served in-process), or the window serves
 * pages itself (`listen`: a server of its own with `--listen`).
 */
export function serverArgs(eventLog: string, sharedDaemon: boolean, listen = ''): string[] {
  if (!eventLog) return ['serve', ...(listen ? ['--listen', listen] : [])];
  if (listen) return ['serve', '--log', eventLog, '--listen', listen];
  return sharedDaemon ? ['serve', '--remote', 'auto', '--log', eventLog] : ['serve', '--log', eventLog];
}

/** What a page of the daemon's web pages is about (`dbl serve --listen`). */
export type PageKind = 'partition' | 'lineage' | 'want' | 'jobRun';

const PAGE_PATHS: Record<PageKind, string> = {
  partition: 'partitions',
  lineage: 'lineage',
  want: 'wants',
  jobRun: 'job-runs',
};

/** An id or ref as one path segment, encoded as dbl encodes it (all but A-Z a-z 0-9 - . _ ~). */
export function pathSegment(text: string): string {
  return encodeURIComponent(text).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}

/** The URL of a page under `base` (`databuild/status`'s `pages`, e.g. `http://127.0.0.1:7420/`). */
export function pageUrl(base: string, kind?: PageKind, id?: string): string {
  const root = base.endsWith('/') ? base : `${base}/`;
  return kind && id ? `${root}${PAGE_PATHS[kind]}/${pathSegment(id)}` : root;
}

/**
 * The page `databuild.openInBrowser` opens for its argument: `[kind, id]`, a ref (its lineage), or none
 * (the lineage panel's focus, else the home page).
 */
export function browserTarget(arg: unknown, focus: string | undefined): { kind?: PageKind; id?: string } {
  if (Array.isArray(arg) && arg.length === 2 && typeof arg[0] === 'string' && arg[0] in PAGE_PATHS && typeof arg[1] === 'string') {
    return { kind: arg[0] as PageKind, id: arg[1] };
  }
  const ref = refArgument(arg) ?? focus;
  return ref ? { kind: 'lineage', id: ref } : {};
}

/** The markdown link a hover on `ref` gets when the daemon serves pages. */
export function browserLink(ref: string): string {
  return `[Open in browser](command:databuild.openInBrowser?${encodeURIComponent(JSON.stringify(['partition', ref]))})`;
}
