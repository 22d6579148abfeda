// The lineage graph of dbl's lineage page. It draws the `databuild/lineage` response the server embedded
// in the page (#lineage-data: {params, response}) as partition ↔ job run nodes laid out left to right by
// dagre (data flows read → run → wrote), each node a link to its page. `+N more` nodes fetch the next
// slice of a cut neighbour list over the page's WebSocket (the truncation's `next` params, sent to
// `databuild/lineage` as they are) and merge it in place. Status changes from the page's subscription
// recolour nodes in place; new consumer edges reload the graph (replaying the expansions).
//
// Bundled by esbuild into web/dist/graph.js (`npm run build`), which the dbl binary embeds and serves as
// /assets/graph.js. Log-derived text only ever goes through textContent and setAttribute.
import { graphlib, layout } from '@dagrejs/dagre';

const SVG = 'http://www.w3.org/2000/svg';
const CHAR_PX = 6.9;
const NODE_HEIGHT = 40;
const MAX_CHARS = 44;

/** One graph: what has been merged so far, and its drawing. */
class Lineage {
  constructor(container, data) {
    this.container = container;
    this.params = data.params;
    this.nodes = new Map();
    this.edges = new Map();
    this.cuts = new Map();
    this.index = { partitions: {}, jobRuns: {}, wants: {} };
    this.focus = data.response.data.focus;
    this.expansions = [];
    this.elements = new Map();
    this.renders = 0;
    this.merge(data.response);
  }

  merge(response) {
    const { data, index } = response;
    for (const node of data.nodes) {
      const key = nodeKey(node);
      if (!this.nodes.has(key)) this.nodes.set(key, node);
    }
    for (const edge of data.edges) this.edges.set(`${edge.kind}:${edge.uuid}:${edge.jobRunId}`, edge);
    for (const cut of data.truncated) this.cuts.set(cutKey(cut), cut);
    Object.assign(this.index.partitions, index.partitions);
    Object.assign(this.index.jobRuns, index.jobRuns);
    Object.assign(this.index.wants, index.wants);
  }

  /** Lays the graph out and draws it; returns the timings. */
  render() {
    const started = performance.now();
    const g = new graphlib.Graph();
    g.setGraph({ rankdir: 'LR', ranker: 'longest-path', nodesep: 10, ranksep: 42, edgesep: 6, marginx: 14, marginy: 14 });
    g.setDefaultEdgeLabel(() => ({}));
    for (const [key, node] of this.nodes) g.setNode(key, this.box(this.describe(node)));
    for (const edge of this.edges.values()) {
      const part = `p:${edge.uuid}`;
      const run = `r:${edge.jobRunId}`;
      if (!g.hasNode(part) || !g.hasNode(run)) continue;
      if (edge.kind === 'read') g.setEdge(part, run, { kind: 'read' });
      else g.setEdge(run, part, { kind: 'wrote' });
    }
    for (const [key, cut] of this.cuts) {
      g.setNode(key, this.box(this.describeCut(cut)));
      const part = `p:${cut.uuid}`;
      if (cut.direction === 'downstream') g.setEdge(part, key, { kind: 'more' });
      else g.setEdge(key, this.builderKey(cut.uuid) ?? part, { kind: 'more' });
    }
    // Longest-path ranks and a single ordering sweep: a few times faster than dagre's defaults on
    // hundreds of nodes, and a lineage graph is layered by nature (partition ↔ job run alternate).
    layout(g, { disableOptimalOrderHeuristic: true });
    const laidOut = performance.now();
    this.draw(g);
    const drawn = performance.now();
    this.renders += 1;
    const timing = {
      nodes: g.nodeCount(),
      edges: g.edgeCount(),
      layoutMs: laidOut - started,
      drawMs: drawn - laidOut,
      totalMs: drawn - started,
    };
    this.container.dataset.renders = String(this.renders);
    return timing;
  }

  builderKey(uuid) {
    for (const edge of this.edges.values()) {
      if (edge.kind === 'wrote' && edge.uuid === uuid) return `r:${edge.jobRunId}`;
    }
    return null;
  }

  /** What a node shows: two lines, a link, a status class. */
  describe(node) {
    if (node.kind === 'partition') {
      const p = this.index.partitions[node.uuid] ?? { ref: node.uuid, state: '?' };
      return {
        kind: 'part',
        title: p.ref,
        sub: `${p.state} · ${node.uuid.slice(0, 8)}`,
        status: p.state,
        href: `/partitions/${encodeURIComponent(node.uuid)}`,
        tooltip: `${p.ref}\n${node.uuid}\n${p.state}${p.current ? '' : ' (not the current instance)'}`,
        focus: node.uuid === this.focus,
      };
    }
    const r = this.index.jobRuns[node.jobRunId] ?? { jobLabel: '', status: '?' };
    return {
      kind: 'run',
      title: node.jobRunId,
      sub: `${r.jobLabel} · ${r.status}`,
      status: r.status,
      href: `/job-runs/${encodeURIComponent(node.jobRunId)}`,
      tooltip: `job run ${node.jobRunId}\n${r.jobLabel}\n${r.status}`,
      focus: false,
    };
  }

  describeCut(cut) {
    const ref = this.index.partitions[cut.uuid]?.ref ?? cut.uuid;
    const what = cut.direction === 'downstream' ? 'consumers' : 'inputs';
    return {
      kind: 'more',
      title: `+${cut.more} more`,
      sub: `${what} of ${ref}`,
      status: '',
      href: null,
      tooltip: `${cut.more} more ${what} of ${ref}: press to show the next ${this.params.fanoutLimit}`,
      focus: false,
    };
  }

  box(label) {
    const chars = Math.max(clip(label.title).length, clip(label.sub).length);
    return { width: Math.max(90, Math.round(chars * CHAR_PX) + 22), height: NODE_HEIGHT, label };
  }

  draw(g) {
    const { width, height } = g.graph();
    const svg = document.createElementNS(SVG, 'svg');
    svg.setAttribute('width', String(Math.ceil(width)));
    svg.setAttribute('height', String(Math.ceil(height)));
    svg.setAttribute('viewBox', `0 0 ${Math.ceil(width)} ${Math.ceil(height)}`);
    svg.append(arrowMarker());
    const edges = document.createElementNS(SVG, 'g');
    for (const e of g.edges()) edges.append(edgePath(g.edge(e)));
    svg.append(edges);
    this.elements.clear();
    for (const key of g.nodes()) {
      const element = this.nodeElement(key, g.node(key));
      this.elements.set(key, element);
      svg.append(element);
    }
    this.svg = svg;
    this.size = { width: Math.ceil(width), height: Math.ceil(height) };
    this.container.replaceChildren(svg);
    this.applyZoom();
  }

  /** `fit`: the whole graph in the box (scaled down, never up); otherwise its natural size. */
  applyZoom() {
    if (!this.svg) return;
    const { width, height } = this.size;
    const scale = this.fit ? Math.min(1, this.container.clientWidth / width, (window.innerHeight * 0.75) / height) : 1;
    this.svg.setAttribute('width', String(Math.floor(width * scale)));
    this.svg.setAttribute('height', String(Math.floor(height * scale)));
  }

  /** Scrolls the box so that the focus is in view (on the next frame: reading the layout forces it). */
  scrollToFocus() {
    const focus = this.elements.get(`p:${this.focus}`)?.querySelector('rect');
    if (!focus) return;
    requestAnimationFrame(() => {
      const x = Number(focus.getAttribute('x'));
      const y = Number(focus.getAttribute('y'));
      const box = this.container;
      box.scrollTo({ left: Math.max(0, x - box.clientWidth / 3), top: Math.max(0, y - box.clientHeight / 2) });
    });
  }

  nodeElement(key, n) {
    const { label } = n;
    const group = document.createElementNS(SVG, 'g');
    group.setAttribute('class', nodeClass(label));
    group.dataset.key = key;
    const x = n.x - n.width / 2;
    const y = n.y - n.height / 2;
    const inner = label.href ? document.createElementNS(SVG, 'a') : group;
    if (label.href) {
      inner.setAttribute('href', label.href);
      group.append(inner);
    } else {
      group.setAttribute('tabindex', '0');
      group.setAttribute('role', 'button');
      group.setAttribute('aria-label', label.tooltip);
      group.addEventListener('click', () => this.expand(key));
      group.addEventListener('keydown', (event) => {
        if (event.key === 'Enter' || event.key === ' ') {
          event.preventDefault();
          this.expand(key);
        }
      });
    }
    const title = document.createElementNS(SVG, 'title');
    title.textContent = label.tooltip;
    const rect = document.createElementNS(SVG, 'rect');
    setAll(rect, { x, y, width: n.width, height: n.height, rx: label.kind === 'run' ? 14 : 5 });
    const line1 = text(x + 11, y + 16, clip(label.title), label.kind === 'run' ? 'id' : 'name');
    const line2 = text(x + 11, y + 31, clip(label.sub), 'sub state');
    inner.append(title, rect, line1, line2);
    return group;
  }

  /** Fetches the next slice of a cut list and merges it in place. */
  async expand(key) {
    const cut = this.cuts.get(key);
    const element = this.elements.get(key);
    if (!cut || !element || element.classList.contains('busy')) return;
    element.classList.add('busy');
    try {
      const result = await window.dblLive.request('databuild/lineage', cut.next);
      this.cuts.delete(key);
      const before = new Set(this.nodes.keys());
      this.merge(result);
      this.expansions.push(cut.next);
      const added = [...this.nodes.keys()].filter((k) => !before.has(k));
      window.dblLive.subscribe({ uuids: added.filter((k) => k.startsWith('p:')).map((k) => k.slice(2)) });
      report(this.render(), 'expand');
      // Keep the keyboard where it was: on the list's next `+N more`, else on the first node it brought.
      const next = this.elements.get(key) ?? this.elements.get(added[0]);
      if (next) (next.querySelector('a') ?? next).focus();
    } catch (e) {
      element.classList.remove('busy');
      showError(this.container, `Could not load more: ${e.message}`);
    }
  }

  /** A subscription notice: recolour what changed; reload when the graph itself grew. */
  onNotice(notice) {
    if (notice.kind !== 'changed') return;
    let grew = false;
    for (const change of notice.changes) {
      if (change.entity === 'partition' && this.index.partitions[change.uuid]) {
        this.index.partitions[change.uuid].state = change.to;
        this.redraw(`p:${change.uuid}`);
      } else if (change.entity === 'jobRun' && this.index.jobRuns[change.jobRunId]) {
        this.index.jobRuns[change.jobRunId].status = change.to;
        this.redraw(`r:${change.jobRunId}`);
      } else if (change.entity === 'consumerEdge' && this.nodes.has(`p:${change.input.uuid}`)) {
        grew = true;
      }
    }
    if (grew) this.reload();
  }

  redraw(key) {
    const element = this.elements.get(key);
    const node = this.nodes.get(key);
    if (!element || !node) return;
    const label = this.describe(node);
    element.setAttribute('class', `${nodeClass(label)} changed`);
    const sub = element.querySelector('text.sub');
    if (sub) sub.textContent = clip(label.sub);
    const title = element.querySelector('title');
    if (title) title.textContent = label.tooltip;
  }

  /** Asks again for the base graph, then every slice expanded so far, and redraws. */
  async reload() {
    if (this.reloading) {
      this.again = true;
      return;
    }
    this.reloading = true;
    try {
      const fresh = new Lineage(this.container, {
        params: this.params,
        response: await window.dblLive.request('databuild/lineage', this.params),
      });
      for (const next of this.expansions) {
        const result = await window.dblLive.request('databuild/lineage', next).catch(() => null);
        if (!result) continue;
        for (const [key, cut] of fresh.cuts) if (cut.uuid === next.uuid && cut.direction === next.direction) fresh.cuts.delete(key);
        fresh.merge(result);
      }
      Object.assign(this, { nodes: fresh.nodes, edges: fresh.edges, cuts: fresh.cuts, index: fresh.index });
      report(this.render(), 'reload');
    } catch (e) {
      showError(this.container, `Could not reload the graph: ${e.message}`);
    } finally {
      this.reloading = false;
      if (this.again) {
        this.again = false;
        this.reload();
      }
    }
  }
}

function nodeKey(node) {
  return node.kind === 'partition' ? `p:${node.uuid}` : `r:${node.jobRunId}`;
}

function cutKey(cut) {
  return `m:${cut.uuid}:${cut.direction}`;
}

function nodeClass(label) {
  const classes = ['gnode', label.kind];
  if (label.status) classes.push(`s-${label.status}`);
  if (label.focus) classes.push('focus');
  return classes.join(' ');
}

function clip(text) {
  return text.length > MAX_CHARS ? `${text.slice(0, MAX_CHARS - 1)}…` : text;
}

function setAll(element, attributes) {
  for (const [name, value] of Object.entries(attributes)) element.setAttribute(name, String(value));
}

function text(x, y, content, className) {
  const t = document.createElementNS(SVG, 'text');
  setAll(t, { x, y, class: className });
  t.textContent = content;
  return t;
}

function arrowMarker() {
  const defs = document.createElementNS(SVG, 'defs');
  const marker = document.createElementNS(SVG, 'marker');
  setAll(marker, { id: 'arrow', viewBox: '0 0 10 10', refX: 9, refY: 5, markerWidth: 7, markerHeight: 7, orient: 'auto-start-reverse' });
  const path = document.createElementNS(SVG, 'path');
  setAll(path, { d: 'M0,0 L10,5 L0,10 z', class: 'arrow' });
  marker.append(path);
  defs.append(marker);
  return defs;
}

function edgePath(edge) {
  const points = edge.points;
  let d = `M${points[0].x},${points[0].y}`;
  for (let i = 1; i < points.length; i++) d += ` L${points[i].x},${points[i].y}`;
  const path = document.createElementNS(SVG, 'path');
  setAll(path, { d, class: `gedge ${edge.kind}`, 'marker-end': 'url(#arrow)' });
  return path;
}

function showError(container, message) {
  let box = container.parentElement.querySelector('.graph-error');
  if (!box) {
    box = document.createElement('p');
    box.className = 'graph-error';
    box.setAttribute('role', 'alert');
    container.after(box);
  }
  box.textContent = message;
}

/** Timings for tests and benchmarks: window.dblGraph.first / .last. */
function report(timing, why) {
  const record = { ...timing, why };
  window.dblGraph = window.dblGraph ?? { first: record };
  window.dblGraph.last = record;
  return record;
}

/** The "Fit" toggle beside the legend (a real button: keyboard and screen readers know it). */
function zoomControl(lineage) {
  const legend = document.querySelector('.legend');
  if (!legend) return;
  const button = document.createElement('button');
  button.type = 'button';
  button.className = 'zoom';
  button.setAttribute('aria-pressed', 'false');
  button.textContent = 'Fit to view';
  button.addEventListener('click', () => {
    lineage.fit = !lineage.fit;
    button.setAttribute('aria-pressed', String(lineage.fit));
    button.textContent = lineage.fit ? 'Actual size' : 'Fit to view';
    lineage.applyZoom();
  });
  legend.prepend(button);
}

function start() {
  const container = document.getElementById('graph');
  const source = document.getElementById('lineage-data');
  if (!container || !source) return;
  const started = performance.now();
  try {
    const lineage = new Lineage(container, JSON.parse(source.textContent));
    const timing = lineage.render();
    const drawn = performance.now();
    lineage.scrollToFocus();
    zoomControl(lineage);
    const record = report({ ...timing, totalMs: drawn - started }, 'load');
    // And once the browser has laid out and painted it (two frames later).
    requestAnimationFrame(() => requestAnimationFrame(() => {
      record.paintedMs = performance.now() - started;
      container.dataset.painted = 'true';
    }));
    window.dblLive?.onNotice((notice) => lineage.onNotice(notice));
  } catch (e) {
    showError(container, `Could not draw the graph: ${e.message}`);
    throw e;
  }
}

if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', start);
else start();
