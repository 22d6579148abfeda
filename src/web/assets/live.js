// dbl pages, live: one WebSocket to the daemon that served the page (the same origin, so the listener's
// Origin check lets it in), a `databuild/subscribe` for what the page shows, and on each change:
// status badges updated in place at once, then the page's regions ([data-region]) fetched again and
// swapped in (open <details> stay open). A `reset` notice reloads the page. No framework; log-derived
// text only ever goes through textContent or attributes.
(() => {
  'use strict';
  const indicator = () => document.getElementById('live');
  const listeners = [];
  const filters = [];
  const pending = new Map();
  let socket = null;
  let nextId = 1;
  let retryMs = 500;
  let connectedOnce = false;

  function show(state, text) {
    const el = indicator();
    if (!el) return;
    el.dataset.state = state;
    el.textContent = text;
  }

  function request(method, params) {
    return new Promise((resolve, reject) => {
      if (!socket || socket.readyState !== WebSocket.OPEN) {
        reject(new Error('not connected to the daemon'));
        return;
      }
      const id = nextId++;
      pending.set(id, { resolve, reject });
      socket.send(JSON.stringify({ jsonrpc: '2.0', id, method, params }));
    });
  }

  function subscribeOne(filter) {
    return request('databuild/subscribe', filter).catch((e) => console.warn('dbl: subscribe failed', e));
  }

  /** Adds a subscription (kept across reconnects). */
  function subscribe(filter) {
    filters.push(filter);
    return subscribeOne(filter);
  }

  function onMessage(event) {
    let message;
    try {
      message = JSON.parse(event.data);
    } catch {
      return;
    }
    if (message.id !== undefined && pending.has(message.id)) {
      const { resolve, reject } = pending.get(message.id);
      pending.delete(message.id);
      if (message.error) reject(new Error(message.error.message));
      else resolve(message.result);
      return;
    }
    if (message.method === 'databuild/lineageChanged' && message.params) handle(message.params.result);
  }

  function handle(notice) {
    if (!notice) return;
    if (notice.kind === 'reset') {
      location.reload();
      return;
    }
    if (notice.kind === 'changed') for (const change of notice.changes || []) patch(change);
    if (notice.kind === 'changed' || notice.kind === 'lagged' || notice.kind === 'logError') scheduleRefresh();
    for (const fn of listeners) {
      try {
        fn(notice);
      } catch (e) {
        console.error(e);
      }
    }
  }

  /** The badges of the changed entity, wherever they are on the page. */
  function selectorOf(change) {
    switch (change.entity) {
      case 'jobRun':
        return `.st[data-run="${CSS.escape(change.jobRunId)}"]`;
      case 'partition':
        return `.st[data-part="${CSS.escape(change.uuid)}"]`;
      case 'want':
        return `.st[data-want="${CSS.escape(change.wantId)}"]`;
      default:
        return null;
    }
  }

  function patch(change) {
    const selector = selectorOf(change);
    if (!selector || !change.to) return;
    for (const badge of document.querySelectorAll(selector)) {
      badge.textContent = change.to;
      badge.setAttribute('class', `st st-${change.to} changed`);
    }
  }

  let refreshTimer = null;
  let refreshing = false;
  let again = false;
  let lastRefresh = 0;

  function scheduleRefresh() {
    if (refreshing) {
      again = true;
      return;
    }
    clearTimeout(refreshTimer);
    const wait = Math.max(200, 1000 - (Date.now() - lastRefresh));
    refreshTimer = setTimeout(refresh, wait);
  }

  /** Fetches the page again and swaps in each region whose contents changed. */
  async function refresh() {
    refreshing = true;
    again = false;
    lastRefresh = Date.now();
    try {
      const response = await fetch(location.href, { cache: 'no-store', headers: { Accept: 'text/html' } });
      if (!response.ok) return;
      const fresh = new DOMParser().parseFromString(await response.text(), 'text/html');
      swapRegions(fresh);
      document.dispatchEvent(new CustomEvent('dbl:refreshed'));
    } catch (e) {
      console.warn('dbl: refresh failed', e);
    } finally {
      refreshing = false;
      if (again) scheduleRefresh();
    }
  }

  function regionIds(doc) {
    return [...doc.querySelectorAll('[data-region][id]')].map((r) => r.id);
  }

  function swapRegions(fresh) {
    const oldMain = document.getElementById('main');
    const newMain = fresh.getElementById('main');
    if (!oldMain || !newMain) return;
    const open = new Set([...oldMain.querySelectorAll('details[open][id]')].map((d) => d.id));
    for (const d of newMain.querySelectorAll('details[id]')) if (open.has(d.id)) d.open = true;
    const focused = document.activeElement && oldMain.contains(document.activeElement) ? document.activeElement : null;
    const focusHref = focused && focused.getAttribute('href');
    const sameRegions = regionIds(document).join('\n') === regionIds(fresh).join('\n');
    if (sameRegions) {
      for (const region of [...newMain.querySelectorAll('[data-region][id]')]) {
        const old = document.getElementById(region.id);
        if (old && old.innerHTML !== region.innerHTML) old.replaceWith(document.adoptNode(region));
      }
    } else {
      // A section appeared or went away: take the whole page body, but keep what scripts drew (the graph).
      for (const keep of oldMain.querySelectorAll('[data-keep][id]')) {
        const slot = newMain.querySelector(`#${CSS.escape(keep.id)}`);
        if (slot) slot.replaceWith(keep);
      }
      oldMain.replaceChildren(...[...newMain.childNodes].map((n) => document.adoptNode(n)));
    }
    if (focusHref && !oldMain.contains(document.activeElement)) {
      const again = oldMain.querySelector(`a[href="${CSS.escape(focusHref)}"]`);
      if (again) again.focus();
    }
  }

  function pageFilter() {
    const text = document.body.dataset.subscribe;
    if (!text) return {};
    try {
      return JSON.parse(text);
    } catch {
      return {};
    }
  }

  function connect() {
    const scheme = location.protocol === 'https:' ? 'wss:' : 'ws:';
    show(connectedOnce ? 'reconnecting' : 'connecting', connectedOnce ? 'reconnecting…' : 'connecting…');
    socket = new WebSocket(`${scheme}//${location.host}/`);
    socket.addEventListener('open', () => {
      retryMs = 500;
      const first = !connectedOnce;
      connectedOnce = true;
      Promise.all(filters.map(subscribeOne)).then(() => {
        show('live', 'live');
        if (!first) scheduleRefresh(); // what changed while we were away
      });
    });
    socket.addEventListener('message', onMessage);
    socket.addEventListener('close', () => {
      for (const { reject } of pending.values()) reject(new Error('the connection to the daemon closed'));
      pending.clear();
      show(connectedOnce ? 'reconnecting' : 'offline', connectedOnce ? 'reconnecting…' : 'offline');
      setTimeout(connect, retryMs);
      retryMs = Math.min(retryMs * 2, 5000);
    });
  }

  window.dblLive = {
    request,
    subscribe,
    onNotice(fn) {
      listeners.push(fn);
    },
    refresh: scheduleRefresh,
  };
  filters.push(pageFilter());
  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', connect);
  else connect();
})();
