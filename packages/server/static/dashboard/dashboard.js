/* global uPlot */
// The ollama-ring dashboard, run by the browser as it is (no build step). It reads the pool from the
// gateway's event stream (/dashboard/events) and calls the admin API with the admin token the user
// enters; both credentials stay in this tab's sessionStorage. Every URL is worked out from this
// script's own, so the page also works behind a reverse proxy that adds a path prefix.
'use strict';
(function () {
  var here = document.currentScript.src;
  var dash = new URL('../', here); // …/dashboard/
  var root = new URL('../../', here); // the gateway
  var store = window.sessionStorage;
  var KEY = 'ollama-ring.apiKey';
  var ADMIN = 'ollama-ring.adminToken';
  var ERROR_KINDS = ['upstream_error', 'timeout', 'rejected', 'client_error', 'backpressure'];
  var ERROR_COLORS = ['#f85149', '#d29922', '#db61a2', '#8a96a3', '#ff7b72'];

  var state = { strategies: [], history: [], snapshot: null, maxSamples: 300, stream: null, retry: null };
  var charts = [];
  var app = document.getElementById('app');

  function esc(s) {
    return String(s).replace(/[&<>"']/g, function (c) {
      return { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' }[c];
    });
  }
  function ms(v) {
    if (v === null || v === undefined) return '–';
    return v < 1000 ? Math.round(v) + ' ms' : (v / 1000).toFixed(v < 10000 ? 2 : 1) + ' s';
  }
  function num(v) {
    return v >= 100 ? String(Math.round(v)) : String(Math.round(v * 10) / 10);
  }

  // ------------------------------------------------------------------ layout, built once

  app.innerHTML =
    '<header>' +
    '<h1>ollama-ring</h1>' +
    '<span class="stat"><span class="dot" id="conn"></span><span id="conn-text">connecting…</span></span>' +
    '<span class="stat">strategy <b id="strategy">–</b> <select id="strategy-select" hidden></select></span>' +
    '<span class="stat">in progress <b id="live">0</b></span>' +
    '<span class="stat">queued <b id="depth">0</b></span>' +
    '<span class="stat">req/s <b id="rps">0</b></span>' +
    '<span class="spacer"></span>' +
    '<span id="notice"></span>' +
    '<span id="admin-area"></span>' +
    '</header>' +
    '<main>' +
    '<section id="key-section" hidden><h2>API key</h2><form class="inline" id="key-form"><span id="key-why"></span>' +
    '<input type="password" id="key-input" placeholder="API key" autocomplete="off"><button type="submit">Show the dashboard</button></form></section>' +
    '<section><h2>Last minutes</h2><div class="charts" id="charts"></div></section>' +
    '<section><h2>Nodes</h2><div class="nodes" id="nodes"></div></section>' +
    '<div class="two">' +
    '<section><h2>Queue</h2><div id="queue"></div></section>' +
    '<section><h2>Batch jobs</h2><div id="jobs"></div></section>' +
    '</div>' +
    '</main>';

  var $ = function (id) {
    return document.getElementById(id);
  };

  function notice(text, kind) {
    var n = $('notice');
    n.textContent = text;
    n.className = kind || '';
  }

  // ------------------------------------------------------------------ charts (uPlot)

  var CHARTS = [
    {
      title: 'Requests per second',
      series: [
        { label: 'ended', stroke: '#58a6ff' },
        { label: 'ok', stroke: '#3fb950' },
      ],
      values: function (s) {
        return [s.req, s.ok];
      },
    },
    {
      title: 'Time to first token',
      series: [
        { label: 'p50', stroke: '#58a6ff', value: fmtMs },
        { label: 'p99', stroke: '#d29922', value: fmtMs },
      ],
      values: function (s) {
        return [s.ttft50, s.ttft99];
      },
    },
    {
      title: 'Queue wait',
      series: [
        { label: 'p50', stroke: '#58a6ff', value: fmtMs },
        { label: 'p99', stroke: '#d29922', value: fmtMs },
      ],
      values: function (s) {
        return [s.wait50, s.wait99];
      },
    },
    {
      title: 'Cold loads and errors per second',
      series: [{ label: 'cold loads', stroke: '#bc8cff' }].concat(
        ERROR_KINDS.map(function (k, i) {
          return { label: k.replace('_', ' '), stroke: ERROR_COLORS[i] };
        }),
      ),
      values: function (s) {
        return [s.cold].concat(
          ERROR_KINDS.map(function (k) {
            return s.err[k] || 0;
          }),
        );
      },
    },
  ];

  function fmtMs(_u, v) {
    return v === null || v === undefined ? '–' : ms(v);
  }

  function chartWidth() {
    var box = $('charts');
    var cols = Math.max(1, Math.floor((box.clientWidth + 12) / 312));
    return Math.max(280, Math.floor((box.clientWidth - 12 * (Math.min(cols, CHARTS.length) - 1)) / Math.min(cols, CHARTS.length)));
  }

  function makeCharts() {
    var box = $('charts');
    var axis = { stroke: '#8a96a3', grid: { stroke: '#2a323c', width: 1 }, ticks: { stroke: '#2a323c', width: 1 } };
    CHARTS.forEach(function (c) {
      var el = document.createElement('div');
      el.className = 'chart';
      el.innerHTML = '<h3>' + esc(c.title) + '</h3>';
      box.appendChild(el);
      var series = [{}].concat(
        c.series.map(function (s) {
          return { label: s.label, stroke: s.stroke, width: 1.5, spanGaps: false, value: s.value };
        }),
      );
      var u = new uPlot(
        { width: chartWidth(), height: 150, series: series, scales: { x: { time: true } }, axes: [axis, axis], legend: { show: true, live: false }, cursor: { show: true } },
        dataOf(c),
        el,
      );
      charts.push({ def: c, plot: u });
    });
    window.addEventListener('resize', function () {
      var w = chartWidth();
      charts.forEach(function (c) {
        c.plot.setSize({ width: w, height: 150 });
      });
    });
  }

  function dataOf(c) {
    var xs = [];
    var cols = c.series.map(function () {
      return [];
    });
    state.history.forEach(function (s) {
      xs.push(s.t / 1000);
      c.values(s).forEach(function (v, i) {
        cols[i].push(v);
      });
    });
    return [xs].concat(cols);
  }

  function redrawCharts() {
    charts.forEach(function (c) {
      c.plot.setData(dataOf(c.def));
    });
  }

  // ------------------------------------------------------------------ the pool

  function nodeCard(n, admin) {
    var down = n.state === 'unhealthy' || n.breaker === 'open';
    var tags = '<span class="badge ' + esc(n.state) + '" data-role="health">' + esc(n.state) + '</span>';
    tags += ' <span class="badge ' + esc(n.breaker) + '" title="circuit breaker" data-role="breaker">breaker ' + esc(n.breaker) + '</span>';
    if (n.adminDisabled || !n.enabled) tags += ' <span class="badge disabled">disabled</span>';
    if (n.draining) tags += ' <span class="badge draining">draining</span>';
    var models = n.models.length
      ? n.models
          .map(function (m) {
            var variant = m.variant ? ' <i>' + esc(m.variant) + '</i>' : '';
            var left = m.state === 'expiring' && m.expiresInMs !== null ? ' <i>' + Math.ceil(m.expiresInMs / 1000) + ' s</i>' : '';
            return (
              '<span class="model ' +
              esc(m.state) +
              '" data-model="' +
              esc(m.model) +
              '" data-state="' +
              esc(m.state) +
              '" title="' +
              esc(m.state) +
              '">' +
              esc(m.model) +
              variant +
              left +
              '</span>'
            );
          })
          .join('')
      : '<span class="muted">no model resident</span>';
    var pct = n.slots > 0 ? Math.min(100, (100 * n.inFlight) / n.slots) : 0;
    var actions = '';
    if (admin) {
      actions =
        '<div class="actions">' +
        ['enable', 'disable', 'drain']
          .map(function (a) {
            return '<button data-action="' + a + '" data-node="' + esc(n.id) + '">' + a + '</button>';
          })
          .join('') +
        '</div>';
    }
    return (
      '<div class="node' +
      (down ? ' down' : '') +
      (n.canServe ? '' : ' off') +
      '" data-node="' +
      esc(n.id) +
      '" data-health="' +
      esc(n.state) +
      '" data-breaker="' +
      esc(n.breaker) +
      '" data-can-serve="' +
      n.canServe +
      '">' +
      '<div class="top"><span class="id">' +
      esc(n.id) +
      '</span>' +
      tags +
      '</div>' +
      '<div class="url" title="' +
      esc(n.lastError || n.url) +
      '">' +
      esc(n.url) +
      '</div>' +
      '<div class="bar"><span style="width:' +
      pct.toFixed(0) +
      '%"></span></div>' +
      '<div class="nums">' +
      '<div>slots<b data-role="slots">' +
      n.inFlight +
      ' / ' +
      n.slots +
      '</b></div>' +
      '<div>req/s<b>' +
      num(n.reqPerSec) +
      '</b></div>' +
      '<div>tokens/s<b>' +
      num(n.tokensPerSec) +
      '</b></div>' +
      '<div>requests<b>' +
      n.totalRequests +
      (n.failedRequests ? ' <span class="muted" title="failed attempts">' + Math.round(n.errorRate) + '% err</span>' : '') +
      '</b></div>' +
      '</div>' +
      '<div class="models">' +
      models +
      '</div>' +
      actions +
      '</div>'
    );
  }

  function render() {
    var s = state.snapshot;
    if (!s) return;
    var admin = !!store.getItem(ADMIN);
    $('strategy').textContent = s.strategy;
    $('live').textContent = s.live;
    $('depth').textContent = s.queue.depth;
    $('rps').textContent = s.sample.req;
    var sel = $('strategy-select');
    sel.hidden = !admin;
    if (admin && document.activeElement !== sel) {
      if (sel.options.length !== state.strategies.length) {
        sel.innerHTML = state.strategies
          .map(function (n) {
            return '<option>' + esc(n) + '</option>';
          })
          .join('');
      }
      sel.value = s.strategy;
    }
    $('nodes').innerHTML = s.nodes
      .map(function (n) {
        return nodeCard(n, admin);
      })
      .join('');

    var q = s.queue;
    $('queue').innerHTML =
      '<p class="muted">' +
      q.depth +
      ' waiting' +
      (q.depth ? ', the oldest for ' + ms(q.oldestWaitMs) : '') +
      '</p>' +
      (q.groups.length
        ? '<table><tr><th>model</th><th>class</th><th>waiting</th><th>oldest</th></tr>' +
          q.groups
            .map(function (g) {
              return (
                '<tr data-queue-model="' +
                esc(g.model) +
                '"><td>' +
                esc(g.model) +
                '</td><td>' +
                esc(g.class) +
                '</td><td>' +
                g.waiting +
                '</td><td>' +
                ms(g.oldestWaitMs) +
                '</td></tr>'
              );
            })
            .join('') +
          '</table>'
        : '');

    var rows = s.jobs.batches.map(function (b) {
      var total = b.queued + b.running + b.done + b.failed;
      return jobRow(b.id, b.kind, 'running', b.done + b.failed, total, b.failed);
    });
    $('jobs').innerHTML = rows.length
      ? '<table><tr><th>job</th><th>kind</th><th>status</th><th>progress</th></tr>' + rows.join('') + '</table>'
      : '<p class="muted">no batch job</p>';
  }

  function jobRow(id, kind, status, done, total, failed) {
    var pct = total > 0 ? Math.round((100 * done) / total) : 0;
    return (
      '<tr><td title="' +
      esc(id) +
      '">' +
      esc(id.slice(0, 18)) +
      '</td><td>' +
      esc(kind) +
      '</td><td>' +
      esc(status) +
      '</td><td>' +
      '<div class="bar"><span style="width:' +
      pct +
      '%"></span></div>' +
      done +
      ' / ' +
      total +
      (failed ? ' (' + failed + ' failed)' : '') +
      '</td></tr>'
    );
  }

  // ------------------------------------------------------------------ the live stream

  function setConn(kind, text) {
    $('conn').className = 'dot ' + kind;
    $('conn-text').textContent = text;
  }

  function connect() {
    clearTimeout(state.retry);
    var key = store.getItem(KEY);
    var headers = key ? { Authorization: 'Bearer ' + key } : {};
    fetch(new URL('session', dash), { method: 'POST', headers: headers, credentials: 'same-origin' })
      .then(function (r) {
        if (r.status === 401) {
          askKey(key ? 'That API key was refused.' : 'This gateway needs an API key.');
          return;
        }
        if (!r.ok) throw new Error('HTTP ' + r.status);
        $('key-section').hidden = true;
        openStream();
      })
      .catch(function () {
        setConn('lost', 'gateway unreachable, retrying');
        state.retry = setTimeout(connect, 2000);
      });
  }

  function askKey(why) {
    setConn('lost', 'API key needed');
    $('key-why').textContent = why;
    $('key-section').hidden = false;
  }

  function openStream() {
    if (state.stream) state.stream.close();
    var es = (state.stream = new EventSource(new URL('events', dash)));
    es.addEventListener('init', function (e) {
      var d = JSON.parse(e.data);
      state.strategies = d.strategies;
      state.history = d.history;
      state.maxSamples = Math.max(d.history.length, Math.round(300000 / d.tickMs));
      state.snapshot = d.snapshot;
      setConn('live', 'live');
      if (!charts.length) makeCharts();
      else redrawCharts();
      render();
    });
    es.addEventListener('tick', function (e) {
      var s = JSON.parse(e.data);
      state.snapshot = s;
      state.history.push(s.sample);
      if (state.history.length > state.maxSamples) state.history.splice(0, state.history.length - state.maxSamples);
      setConn('live', 'live');
      redrawCharts();
      render();
    });
    // Sent between ticks when a node changes state: the pool only, no new second for the charts.
    es.addEventListener('pool', function (e) {
      state.snapshot = JSON.parse(e.data);
      render();
    });
    es.onerror = function () {
      setConn('lost', 'connection lost, retrying');
      // Closed for good (a refusal, or the gateway restarted and forgot the session): start over.
      if (es.readyState === EventSource.CLOSED) {
        state.stream = null;
        state.retry = setTimeout(connect, 2000);
      }
    };
  }

  $('key-form').addEventListener('submit', function (e) {
    e.preventDefault();
    store.setItem(KEY, $('key-input').value.trim());
    $('key-input').value = '';
    connect();
  });

  // ------------------------------------------------------------------ admin actions

  function renderAdmin() {
    var area = $('admin-area');
    if (store.getItem(ADMIN)) {
      area.innerHTML = '<span class="muted">admin</span> <button id="admin-off">forget admin token</button>';
      $('admin-off').onclick = function () {
        store.removeItem(ADMIN);
        renderAdmin();
        render();
      };
    } else {
      area.innerHTML =
        '<form class="inline" id="admin-form"><span class="muted">read-only</span>' +
        '<input type="password" id="admin-input" placeholder="admin token" autocomplete="off"><button type="submit">unlock admin</button></form>';
      $('admin-form').onsubmit = function (e) {
        e.preventDefault();
        var t = $('admin-input').value.trim();
        if (!t) return;
        store.setItem(ADMIN, t);
        renderAdmin();
        render();
      };
    }
  }

  function adminCall(path, body) {
    var init = { method: 'POST', headers: { Authorization: 'Bearer ' + (store.getItem(ADMIN) || '') } };
    if (body) {
      init.headers['content-type'] = 'application/json';
      init.body = JSON.stringify(body);
    }
    return fetch(new URL('admin/' + path, root), init).then(function (r) {
      return r
        .json()
        .catch(function () {
          return {};
        })
        .then(function (b) {
          if (!r.ok) throw new Error('refused (' + r.status + '): ' + (b.error || 'error'));
          return b;
        });
    });
  }

  $('nodes').addEventListener('click', function (e) {
    var b = e.target.closest('button[data-action]');
    if (!b) return;
    var id = b.getAttribute('data-node');
    var action = b.getAttribute('data-action');
    adminCall('nodes/' + encodeURIComponent(id) + '/' + action)
      .then(function () {
        notice(id + ': ' + action + ' done', 'ok');
      })
      .catch(function (err) {
        notice(id + ': ' + action + ' ' + err.message, 'error');
      });
  });

  $('strategy-select').addEventListener('change', function (e) {
    var name = e.target.value;
    adminCall('strategy', { strategy: name })
      .then(function () {
        notice('strategy: ' + name, 'ok');
      })
      .catch(function (err) {
        notice('strategy ' + err.message, 'error');
      });
  });

  renderAdmin();
  connect();
})();
