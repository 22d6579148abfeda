// Unit tests of the extension's pure logic (node:test; no VS Code needed).
import { test } from 'node:test';
import * as assert from 'node:assert/strict';

import {
  browserLink,
  browserTarget,
  focusNodes,
  formatStatus,
  needsRefresh,
  neighbourNodes,
  Neighbours,
  noticeOf,
  pageUrl,
  pickLabel,
  serverArgs,
  refArgument,
  refsShown,
  stateIcon,
} from '../src/model';

const loc = (uri: string, line: number) => ({
  uri,
  range: { start: { line, character: 4 }, end: { line, character: 13 } },
});

// What dbl answers for data/beta in the demo log (databuild/upstream and databuild/downstream).
const up: Neighbours = {
  data: {
    ref: 'data/beta',
    uuid: 'd1305448-db69-5062-8c23-837705b1ceef',
    state: 'Live',
    direction: 'upstream',
    items: [
      {
        ref: 'data/alpha',
        uuid: '3a0f0c8e-0000-5000-8000-000000000000',
        state: 'External',
        jobRunId: null,
        locations: [loc('file:///w/my%20jobs/beta.py', 1)],
      },
    ],
    more: 0,
  },
  index: {
    partitions: { 'd1305448-db69-5062-8c23-837705b1ceef': { ref: 'data/beta', state: 'Live', builtBy: 'JR-456' } },
    jobRuns: { 'JR-456': { jobLabel: '//jobs:beta', status: 'Succeeded' } },
  },
};

const down: Neighbours = {
  data: {
    ref: 'data/beta',
    uuid: 'd1305448-db69-5062-8c23-837705b1ceef',
    state: 'Live',
    direction: 'downstream',
    items: [
      { ref: 'data/gamma', uuid: 'u-gamma', state: 'Live', jobRunId: 'JR-789', locations: [] },
      { ref: 'data/delta', uuid: 'u-delta', state: 'Building', jobRunId: 'JR-790', locations: [] },
    ],
    more: 3,
  },
  index: { partitions: {}, jobRuns: { 'JR-789': { jobLabel: '//jobs:gamma', status: 'Succeeded' } } },
};

test('focus nodes: the ref with its builder, then upstream and downstream groups with counts', () => {
  const [focus, upGroup, downGroup] = focusNodes(up, down);
  assert.equal(focus.label, 'data/beta');
  assert.equal(focus.description, 'Live');
  assert.equal(focus.icon, 'pass');
  assert.match(focus.tooltip ?? '', /built by JR-456 \(\/\/jobs:beta\) — Succeeded/);
  assert.deepEqual([upGroup.label, upGroup.description, upGroup.expandable], ['Upstream', '1 input', true]);
  assert.deepEqual([downGroup.label, downGroup.description, downGroup.direction], ['Downstream', '5 consumers', 'downstream']);
  assert.doesNotMatch(focus.tooltip ?? '', /last built instance/);
});

test('focus node during a rebuild: the current state, and which instance the lineage is of', () => {
  const rebuilding: Neighbours = {
    data: { ...up.data, uuid: 'u-new', state: 'Building', lineageUuid: up.data.uuid },
    index: {
      partitions: { 'u-new': { ref: 'data/beta', state: 'Building', builtBy: 'JR-900' } },
      jobRuns: { 'JR-900': { jobLabel: '//jobs:beta', status: 'Queued' } },
    },
  };
  const [focus] = focusNodes(rebuilding, down);
  assert.equal(focus.description, 'Building');
  assert.equal(focus.icon, 'sync');
  assert.match(focus.tooltip ?? '', /built by JR-900 \(\/\/jobs:beta\) — Queued/);
  assert.match(focus.tooltip ?? '', /last built instance d1305448-db69-5062-8c23-837705b1ceef/);
});

test('neighbour nodes: state, builder, first location, and +N more', () => {
  const nodes = neighbourNodes(down, 'group:downstream:data/beta');
  assert.deepEqual(
    nodes.map((n) => [n.kind, n.label, n.description]),
    [
      ['item', 'data/gamma', 'Live · built by JR-789 (//jobs:gamma)'],
      ['item', 'data/delta', 'Building · built by JR-790'],
      ['more', '+3 more', undefined],
    ],
  );
  assert.equal(nodes[0].id, 'group:downstream:data/beta/data/gamma');
  assert.equal(nodes[0].expandable, true);
  const [alpha] = neighbourNodes(up, 'g');
  assert.equal(alpha.description, 'External · external source');
  assert.equal(alpha.location?.range.start.line, 1);
  assert.match(alpha.tooltip ?? '', /appears in 1 place/);
});

test('status bar text for each daemon state', () => {
  assert.equal(formatStatus(undefined).text, '$(sync~spin) dbl: starting');
  assert.equal(formatStatus({ eventsApplied: 12345, logPath: '/l.bel' }).text, '$(database) dbl: 12,345 events');
  assert.equal(formatStatus({ eventsApplied: 5, loading: true }).text, '$(sync~spin) dbl: loading 5 events');
  assert.equal(formatStatus({ waitingForFile: true, logPath: '/l' }).text, '$(watch) dbl: waiting for log');
  const bad = formatStatus({ eventsApplied: 7, lastError: { message: 'bad record at byte 12' } });
  assert.equal(bad.error, true);
  assert.match(bad.tooltip, /bad record at byte 12/);
  assert.equal(formatStatus(undefined, 'spawn dbl ENOENT').text, '$(error) dbl: not running');
});

test('command arguments and notifications', () => {
  assert.equal(refArgument('data/beta'), 'data/beta');
  assert.equal(refArgument(['data/beta']), 'data/beta');
  assert.equal(refArgument({ ref: 'data/beta' }), 'data/beta');
  assert.equal(refArgument(undefined), undefined);
  assert.equal(refArgument(''), undefined);
  assert.deepEqual(noticeOf({ subscription: 1, result: { kind: 'changed' } }), { kind: 'changed' });
  assert.deepEqual(noticeOf({ kind: 'reset' }), { kind: 'reset' });
  assert.equal(noticeOf(3), undefined);
  assert.equal(needsRefresh({ kind: 'changed' }), true);
  assert.equal(needsRefresh({ kind: 'subscribed' }), false);
  assert.deepEqual(refsShown(up, down), ['data/alpha', 'data/beta', 'data/delta', 'data/gamma']);
});

test('quick pick labels show where a ref appears', () => {
  assert.deepEqual(pickLabel(up.data.items[0]), {
    label: 'data/alpha',
    description: 'External',
    detail: '/w/my jobs/beta.py:2',
  });
  assert.equal(pickLabel(down.data.items[0]).detail, 'not mentioned in the open documents or workspace');
  assert.equal(stateIcon('Tainted'), 'flame');
  assert.equal(stateIcon('Whatever'), 'circle-outline');
});

test('the server goes through the shared daemon for a configured log unless turned off', () => {
  assert.deepEqual(serverArgs('/w/bel.db', true), ['serve', '--remote', 'auto', '--log', '/w/bel.db']);
  assert.deepEqual(serverArgs('/w/bel.db', false), ['serve', '--log', '/w/bel.db']);
  assert.deepEqual(serverArgs('', true), ['serve']);
  assert.deepEqual(serverArgs('/w/bel.db', true, '127.0.0.1:7420'), ['serve', '--log', '/w/bel.db', '--listen', '127.0.0.1:7420']);
});

test('page URLs encode refs as one segment, like dbl', () => {
  const base = 'http://127.0.0.1:7420/';
  assert.equal(pageUrl(base), base);
  assert.equal(pageUrl('http://127.0.0.1:7420', 'partition', 'data/beta'), 'http://127.0.0.1:7420/partitions/data%2Fbeta');
  assert.equal(pageUrl(base, 'lineage', 's3://b/k=v (x)'), `${base}lineage/s3%3A%2F%2Fb%2Fk%3Dv%20%28x%29`);
  assert.equal(pageUrl(base, 'want', "W-1!'*"), `${base}wants/W-1%21%27%2A`);
  assert.equal(pageUrl(base, 'jobRun', 'JR-7'), `${base}job-runs/JR-7`);
});

test('open in browser: [kind, id], a ref, the panel focus or home', () => {
  assert.deepEqual(browserTarget(['want', 'W-1'], 'data/x'), { kind: 'want', id: 'W-1' });
  assert.deepEqual(browserTarget(['partition', 'data/beta'], undefined), { kind: 'partition', id: 'data/beta' });
  assert.deepEqual(browserTarget('data/beta', 'data/x'), { kind: 'lineage', id: 'data/beta' });
  assert.deepEqual(browserTarget(undefined, 'data/x'), { kind: 'lineage', id: 'data/x' });
  assert.deepEqual(browserTarget(undefined, undefined), {});
  assert.deepEqual(browserTarget(['nope', 'x'], undefined), { kind: 'lineage', id: 'nope' });
  const link = browserLink('data/beta');
  assert.ok(link.startsWith('[Open in browser](command:databuild.openInBrowser?'), link);
  assert.deepEqual(JSON.parse(decodeURIComponent(link.slice(link.indexOf('?') + 1, -1))), ['partition', 'data/beta']);
});
