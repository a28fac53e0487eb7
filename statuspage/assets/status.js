// Draws /status.json every second. Every value cell carries its raw value
// in data-value, so that tests (and people) can read it exactly.
"use strict";
(function () {
  const interval = 1000;
  const MiB = 1 << 20;
  const bytes = (b) => b == null ? "—" : b >= 10 * MiB ? (b / MiB).toFixed(0) + " MiB" : b >= 1024 ? (b / MiB).toFixed(1) + " MiB" : b + " B";
  const secs = (s) => s == null ? "—" : s >= 1 ? s.toFixed(2) + " s" : s >= 1e-3 ? (s * 1e3).toFixed(1) + " ms" : (s * 1e6).toFixed(0) + " µs";
  const rate = (r) => r == null ? "—" : r >= 100 ? r.toFixed(0) : r.toFixed(1);
  const pct = (f) => f == null ? "—" : (f * 100).toFixed(1) + "%";
  const plain = (v) => v == null || v === "" ? "—" : String(v);
  const formats = {
    "time": (t) => new Date(t * 1000).toLocaleTimeString(),
    "memory.rss": bytes, "memory.heap": bytes, "memory.total": bytes, "memory.limit": bytes,
    "memory.go_limit": (b) => b ? bytes(b) : "none", "memory.off_heap": bytes,
    "raft.log_bytes": bytes, "requests.watch_queued_bytes": bytes,
    "requests.per_second": rate, "requests.p99_seconds": secs,
    "raft.leader": (l) => l || "none",
  };
  const get = (obj, path) => path.split(".").reduce((o, k) => o == null ? o : o[k], obj);

  function cell(tr, value, text, cls) {
    const td = tr.insertCell();
    if (value != null) td.dataset.value = String(value);
    td.textContent = text;
    if (cls) td.className = cls;
    return td;
  }

  function renderBudget(mem) {
    const body = document.querySelector("#budget tbody");
    body.replaceChildren();
    for (const it of mem.items || []) {
      const tr = body.insertRow();
      tr.dataset.row = it.key;
      cell(tr, it.bytes, bytes(it.bytes) + (it.per_client ? " per " + it.per_client : ""), "n");
      const used = cell(tr, it.used, it.used == null ? "not measured" : bytes(it.used), "n" + (it.used == null ? " none" : ""));
      if (it.note) used.title = it.note;
      const bar = tr.insertCell();
      if (it.used != null && it.bytes > 0) {
        const s = document.createElement("span");
        s.className = "use";
        s.style.width = Math.min(100, 100 * it.used / it.bytes).toFixed(0) + "px";
        bar.appendChild(s);
      }
      cell(tr, null, it.what + (it.off_heap ? " [off the Go heap]" : ""));
      cell(tr, null, it.flags);
    }
    const fill = (id, v, of) => {
      const el = document.getElementById(id);
      const f = of > 0 ? v / of : 0;
      el.style.width = Math.min(100, 100 * f).toFixed(1) + "%";
      el.classList.toggle("over", f > 1);
    };
    fill("bar-rss", mem.rss, mem.limit || mem.total);
    fill("bar-heap", mem.heap, mem.go_limit || mem.total);
  }

  function renderFollowers(raft) {
    const body = document.querySelector("#followers tbody");
    body.replaceChildren();
    const fs = raft.followers || [];
    for (const f of fs) {
      const tr = body.insertRow();
      tr.dataset.row = f.id;
      cell(tr, f.id, f.id + (f.learner ? " (learner)" : ""));
      cell(tr, f.match, String(f.match), "n");
      cell(tr, raft.commit - f.match, String(Math.max(0, raft.commit - f.match)), "n");
      cell(tr, f.state, f.state.replace("State", "") + (f.pending_snapshot ? " (snapshot " + f.pending_snapshot + ")" : ""));
      cell(tr, f.active, f.active ? "yes" : "no");
    }
    document.getElementById("followers-note").textContent = fs.length ? "as the leader tracks them" :
      raft.leader ? "this member does not lead: member " + raft.leader + " tracks the followers" : "no leader known";
  }

  function renderActors(actors) {
    const body = document.querySelector("#actors tbody");
    body.replaceChildren();
    for (const a of actors || []) {
      const tr = body.insertRow();
      tr.dataset.row = a.actor;
      cell(tr, a.actor, a.actor);
      cell(tr, a.running, String(a.running), "n");
      cell(tr, a.depth, String(a.depth), "n");
      cell(tr, a.messages_per_second, rate(a.messages_per_second), "n");
      cell(tr, a.busy, pct(a.busy), "n");
      cell(tr, a.mean_seconds, secs(a.mean_seconds), "n");
      cell(tr, a.restarts, String(a.restarts), "n");
    }
  }

  // Breaks the lines where nobody looked: a null after a gap.
  function withGaps(time, series) {
    const t = [], out = series.map(() => []);
    for (let i = 0; i < time.length; i++) {
      if (i > 0 && time[i] - time[i - 1] > 3 * interval / 1000) {
        t.push(time[i - 1] + interval / 1000);
        out.forEach((s) => s.push(null));
      }
      t.push(time[i]);
      series.forEach((s, j) => out[j].push(s[i]));
    }
    return [t, ...out];
  }

  const charts = {};
  function chart(id, title, series, data) {
    const el = document.getElementById(id);
    if (!charts[id]) {
      charts[id] = new uPlot({
        title, width: el.clientWidth || 380, height: 200,
        series: [{}, ...series.map((s) => Object.assign({ width: 2 }, s))],
        axes: [{}, { size: 60 }],
        legend: { live: false },
      }, data, el);
    } else {
      charts[id].setData(data);
    }
  }

  function renderCharts(rep) {
    const s = rep.samples;
    const mib = (a) => a.map((v) => v == null ? null : v / MiB);
    const total = s.time.map(() => rep.memory.total / MiB);
    chart("chart-memory", "memory (MiB)", [
      { label: "RSS", stroke: "#2563eb" }, { label: "Go heap", stroke: "#059669" },
      { label: "budget", stroke: "#9ca3af", dash: [6, 4], width: 1 },
    ], withGaps(s.time, [mib(s.rss), mib(s.heap), total]));
    chart("chart-rps", "unary requests/s", [{ label: "req/s", stroke: "#7c3aed" }], withGaps(s.time, [s.per_second]));
    chart("chart-p99", "unary p99 (ms)", [{ label: "p99", stroke: "#dc2626" }],
      withGaps(s.time, [s.p99_seconds.map((v) => v == null ? null : v * 1e3)]));
  }

  function render(rep) {
    for (const el of document.querySelectorAll("[data-key]")) {
      const k = el.dataset.key, v = get(rep, k);
      el.dataset.value = v == null ? "" : String(v);
      el.textContent = (formats[k] || plain)(v);
    }
    renderBudget(rep.memory);
    renderFollowers(rep.raft);
    renderActors(rep.actors);
    renderCharts(rep);
    document.body.dataset.reportTime = String(rep.time);
    document.body.dataset.samples = String(rep.samples.time.length);
    document.body.dataset.drawn = String(document.querySelectorAll(".uplot canvas").length);
  }

  async function poll() {
    try {
      const res = await fetch("/status.json", { cache: "no-store" });
      if (!res.ok) throw new Error(res.status + " " + (await res.text()));
      render(await res.json());
      document.getElementById("error").textContent = "";
    } catch (e) {
      document.getElementById("error").textContent = "cannot read /status.json: " + e.message;
    }
    setTimeout(poll, interval);
  }
  poll();
})();
