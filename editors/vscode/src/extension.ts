// The Databuild Lineage extension: starts `dbl serve --stdio` as a language server and adds the
// lineage panel, the commands and the status bar item on top of its `databuild/*` methods.
import * as path from 'node:path';
import * as vscode from 'vscode';
import { LanguageClient, LanguageClientOptions, ServerOptions, State } from 'vscode-languageclient/node';

import {
  browserLink,
  browserTarget,
  focusNodes,
  formatStatus,
  LspLocation,
  messageNode,
  needsRefresh,
  neighbourNodes,
  Neighbours,
  noticeOf,
  pageUrl,
  pickLabel,
  refArgument,
  refsShown,
  Status,
  serverArgs,
  TreeNode,
} from './model';

let client: LanguageClient | undefined;
/** The base URL of the daemon's web pages (`databuild/status`'s `pages`), when it serves them. */
let pagesBase: string | undefined;

function settings() {
  const config = vscode.workspace.getConfiguration('databuild');
  let eventLog = config.get<string>('eventLog', '');
  const root = vscode.workspace.workspaceFolders?.[0]?.uri.fsPath;
  if (eventLog && root && !path.isAbsolute(eventLog)) eventLog = path.join(root, eventLog);
  return {
    serverPath: config.get<string>('serverPath', 'dbl') || 'dbl',
    eventLog,
    refPatterns: config.get<string[]>('refPatterns', []),
    fanoutLimit: config.get<number>('fanoutLimit', 20),
    sharedDaemon: config.get<boolean>('sharedDaemon', true),
    listen: config.get<string>('listen', '').trim(),
  };
}

function toLocation(l: LspLocation): vscode.Location {
  const r = l.range;
  return new vscode.Location(
    vscode.Uri.parse(l.uri),
    new vscode.Range(r.start.line, r.start.character, r.end.line, r.end.character),
  );
}

async function request<T>(method: string, params: unknown): Promise<T> {
  if (!client || client.state !== State.Running) throw new Error('dbl serve is not running');
  return client.sendRequest<T>(method, params);
}

/** `{ref}` from an argument, else `{textDocument, position}` of the cursor. */
function refParams(arg: unknown): Record<string, unknown> | undefined {
  const ref = refArgument(arg);
  if (ref) return { ref };
  const editor = vscode.window.activeTextEditor;
  if (!editor) return undefined;
  return {
    textDocument: { uri: editor.document.uri.toString() },
    position: { line: editor.selection.active.line, character: editor.selection.active.character },
  };
}

function reportError(what: string, e: unknown) {
  const message = e instanceof Error ? e.message : String(e);
  void vscode.window.showErrorMessage(`Databuild: ${what}: ${message}`);
}

/** The lineage panel: a focus ref, its upstream and downstream, each expandable in turn. */
class LineageTree implements vscode.TreeDataProvider<TreeNode> {
  private readonly changed = new vscode.EventEmitter<TreeNode | undefined>();
  readonly onDidChangeTreeData = this.changed.event;
  focus: string | undefined;
  private top: TreeNode[] = [messageNode('Hover a partition ref and run "Databuild: Show Lineage"')];
  private subscription: unknown;

  async show(ref: string) {
    this.focus = ref;
    await this.refresh();
  }

  async refresh() {
    if (!this.focus) return;
    try {
      const [up, down] = await Promise.all([
        request<Neighbours>('databuild/upstream', { ref: this.focus }),
        request<Neighbours>('databuild/downstream', { ref: this.focus }),
      ]);
      this.top = focusNodes(up, down);
      await this.subscribe(refsShown(up, down));
    } catch (e) {
      this.top = [messageNode(`${this.focus}: ${e instanceof Error ? e.message : String(e)}`)];
    }
    this.changed.fire(undefined);
  }

  private async subscribe(refs: string[]) {
    if (this.subscription !== undefined) {
      await request('databuild/unsubscribe', [this.subscription]).catch(() => undefined);
    }
    this.subscription = await request<unknown>('databuild/subscribe', { refs }).catch(() => undefined);
  }

  getTreeItem(node: TreeNode): vscode.TreeItem {
    const item = new vscode.TreeItem(
      node.label,
      node.expandable
        ? node.kind === 'group'
          ? vscode.TreeItemCollapsibleState.Expanded
          : vscode.TreeItemCollapsibleState.Collapsed
        : vscode.TreeItemCollapsibleState.None,
    );
    item.id = node.id;
    item.description = node.description;
    item.tooltip = node.tooltip;
    if (node.icon) item.iconPath = new vscode.ThemeIcon(node.icon);
    item.contextValue = node.location ? 'located' : node.kind;
    if (node.kind === 'item' && node.ref) {
      item.command = { command: 'databuild.showLineage', title: 'Show Lineage', arguments: [node.ref] };
    }
    return item;
  }

  async getChildren(node?: TreeNode): Promise<TreeNode[]> {
    if (!node) return this.top;
    if (!node.ref || !node.direction || (node.kind !== 'group' && node.kind !== 'item')) return [];
    try {
      const result = await request<Neighbours>(`databuild/${node.direction}`, { ref: node.ref });
      return neighbourNodes(result, node.id);
    } catch (e) {
      return [messageNode(e instanceof Error ? e.message : String(e))];
    }
  }
}

async function pickAndGo(direction: 'upstream' | 'downstream', arg: unknown) {
  const params = refParams(arg);
  if (!params) return void vscode.window.showInformationMessage('Databuild: put the cursor on a partition ref');
  try {
    const result = await request<Neighbours>(`databuild/${direction}`, params);
    const items = result.data.items;
    if (items.length === 0) {
      return void vscode.window.showInformationMessage(`Databuild: ${result.data.ref} has no ${direction} refs`);
    }
    const picked = await vscode.window.showQuickPick(
      items.map((item) => ({ ...pickLabel(item), item })),
      { placeHolder: `${direction} of ${result.data.ref}` },
    );
    if (!picked) return;
    const where = picked.item.locations[0];
    if (where) {
      const loc = toLocation(where);
      await vscode.window.showTextDocument(loc.uri, { selection: loc.range });
    } else {
      await vscode.commands.executeCommand('databuild.showLineage', picked.item.ref);
    }
  } catch (e) {
    reportError(`${direction} of the ref`, e);
  }
}

async function showJson(title: string, value: unknown) {
  const doc = await vscode.workspace.openTextDocument({
    language: 'json',
    content: `// ${title}\n${JSON.stringify(value, null, 2)}\n`,
  });
  await vscode.window.showTextDocument(doc, { preview: true, viewColumn: vscode.ViewColumn.Beside });
}

export async function activate(context: vscode.ExtensionContext) {
  const output = vscode.window.createOutputChannel('Databuild');
  const s = settings();
  const serverOptions: ServerOptions = {
    command: s.serverPath,
    args: serverArgs(s.eventLog, s.sharedDaemon, s.listen),
    transport: 0 /* stdio: vscode-languageclient appends --stdio */,
  };
  const clientOptions: LanguageClientOptions = {
    documentSelector: [{ scheme: 'file' }, { scheme: 'untitled' }],
    initializationOptions: { eventLog: s.eventLog, refPatterns: s.refPatterns, fanoutLimit: s.fanoutLimit },
    synchronize: { configurationSection: 'databuild' },
    markdown: { isTrusted: true },
    outputChannel: output,
    middleware: {
      // With pages served, a hover on a ref also offers its page in the browser.
      provideHover: async (document, position, token, next) => {
        const hover = await next(document, position, token);
        if (!hover || !pagesBase || !hover.range) return hover;
        const ref = document.getText(hover.range);
        const link = new vscode.MarkdownString(browserLink(ref));
        link.isTrusted = { enabledCommands: ['databuild.openInBrowser'] };
        return new vscode.Hover([...hover.contents, link], hover.range);
      },
    },
  };
  client = new LanguageClient('databuild', 'Databuild Lineage', serverOptions, clientOptions);

  const tree = new LineageTree();
  const view = vscode.window.createTreeView('databuild.lineage', { treeDataProvider: tree, showCollapseAll: true });
  const status = vscode.window.createStatusBarItem(vscode.StatusBarAlignment.Left, 0);
  status.command = 'databuild.showLineage';
  const paint = (st: Status | undefined, failure?: string) => {
    pagesBase = st?.pages ?? undefined;
    void vscode.commands.executeCommand('setContext', 'databuild.pagesAvailable', pagesBase !== undefined);
    const f = formatStatus(st, failure);
    status.text = f.text;
    status.tooltip = f.tooltip;
    status.backgroundColor = f.error ? new vscode.ThemeColor('statusBarItem.errorBackground') : undefined;
  };
  paint(undefined);
  status.show();

  let refreshTimer: NodeJS.Timeout | undefined;
  const scheduleRefresh = () => {
    if (refreshTimer) clearTimeout(refreshTimer);
    refreshTimer = setTimeout(() => void tree.refresh(), 200);
  };

  context.subscriptions.push(
    output,
    view,
    status,
    vscode.commands.registerCommand('databuild.showLineage', async (arg?: unknown) => {
      const params = refParams(arg);
      if (!params) return void vscode.window.showInformationMessage('Databuild: put the cursor on a partition ref');
      try {
        const ref = refArgument(arg) ?? (await request<Neighbours>('databuild/upstream', params)).data.ref;
        await tree.show(ref);
        await vscode.commands.executeCommand('databuild.lineage.focus');
      } catch (e) {
        reportError('show lineage', e);
      }
    }),
    vscode.commands.registerCommand('databuild.goToUpstream', (arg?: unknown) => pickAndGo('upstream', arg)),
    vscode.commands.registerCommand('databuild.goToDownstream', (arg?: unknown) => pickAndGo('downstream', arg)),
    vscode.commands.registerCommand('databuild.showJobRun', async (arg?: unknown) => {
      try {
        let jobRunId = typeof arg === 'string' ? arg : Array.isArray(arg) ? String(arg[0]) : undefined;
        if (!jobRunId) {
          const params = refParams(undefined);
          if (params) {
            const up = await request<Neighbours>('databuild/upstream', params);
            jobRunId = up.index.partitions[up.data.uuid]?.builtBy ?? undefined;
          }
        }
        jobRunId ??= await vscode.window.showInputBox({ prompt: 'Job run id' });
        if (!jobRunId) return;
        await showJson(`job run ${jobRunId}`, await request('databuild/jobRun', { jobRunId }));
      } catch (e) {
        reportError('show job run', e);
      }
    }),
    vscode.commands.registerCommand('databuild.showWantFulfillment', async (arg?: unknown) => {
      try {
        let wantId = typeof arg === 'string' ? arg : Array.isArray(arg) ? String(arg[0]) : undefined;
        wantId ??= await vscode.window.showInputBox({ prompt: 'Want id' });
        if (!wantId) return;
        await showJson(`fulfillment of want ${wantId}`, await request('databuild/fulfillment', { wantId }));
      } catch (e) {
        reportError('show want fulfillment', e);
      }
    }),
    vscode.commands.registerCommand('databuild.openInBrowser', async (arg?: unknown) => {
      if (!pagesBase) {
        return void vscode.window.showInformationMessage(
          'Databuild: no web pages: set databuild.listen (e.g. 127.0.0.1:0) so that dbl serve also listens',
        );
      }
      const target = browserTarget(arg, tree.focus);
      await vscode.env.openExternal(vscode.Uri.parse(pageUrl(pagesBase, target.kind, target.id)));
    }),
    vscode.commands.registerCommand('databuild.openLocation', async (node?: TreeNode) => {
      if (!node?.location) return;
      const loc = toLocation(node.location);
      await vscode.window.showTextDocument(loc.uri, { selection: loc.range });
    }),
  );

  try {
    await client.start();
  } catch (e) {
    paint(undefined, e instanceof Error ? e.message : String(e));
    reportError(`could not start ${s.serverPath} serve --stdio (set databuild.serverPath)`, e);
    return;
  }
  client.onNotification('databuild/lineageChanged', (params: unknown) => {
    if (needsRefresh(noticeOf(params))) scheduleRefresh();
  });
  const poll = async () => {
    try {
      paint(await request<Status>('databuild/status', {}));
    } catch (e) {
      paint(undefined, e instanceof Error ? e.message : String(e));
    }
  };
  await poll();
  const timer = setInterval(() => void poll(), 2000);
  context.subscriptions.push({ dispose: () => clearInterval(timer) });
}

export async function deactivate() {
  await client?.stop();
  client = undefined;
}
