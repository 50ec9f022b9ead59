// The console's own script (served from the gateway; the page allows no inline script).
// Charts read their numbers from JSON data blocks; the Live page follows an EventSource.
"use strict";
(function () {
  var colours = { EXCHANGE: "#0a5bc4", ONEDRIVE: "#2da44e", SHAREPOINT: "#bf8700", TEAMS: "#8250df", UNKNOWN: "#6e7781" };

  function drawDays() {
    var block = document.getElementById("days-data");
    var canvas = document.getElementById("days-chart");
    if (!block || !canvas || !window.Chart) return;
    var d = JSON.parse(block.textContent);
    new window.Chart(canvas, {
      type: "bar",
      data: {
        labels: d.days,
        datasets: (d.series || []).map(function (s) {
          return { label: s.type, data: s.counts, backgroundColor: colours[s.type] || "#6e7781" };
        })
      },
      options: { responsive: true, maintainAspectRatio: false, animation: false,
        scales: { x: { stacked: true }, y: { stacked: true, beginAtZero: true } } }
    });
  }

  function cell(tr, text) {
    var td = document.createElement("td");
    td.textContent = text == null ? "" : String(text);
    tr.appendChild(td);
    return td;
  }

  function followLive() {
    var table = document.getElementById("live");
    if (!table) return;
    var status = document.getElementById("live-status");
    var body = table.querySelector("tbody");
    var query = location.search;
    // EventSource reconnects by itself and sends the last event's id (its feed position) as
    // Last-Event-ID: the stream resumes right after it.
    var open = 0;
    function follow(feed, field, label) {
      // EventSource reconnects by itself and sends the last event's id (its feed position) as
      // Last-Event-ID: the stream resumes right after it.
      var es = new EventSource(table.getAttribute("data-stream") + feed);
      es.onopen = function () { open++; if (open >= 2) status.textContent = "Connected: waiting for new sessions."; };
      es.onerror = function () { open = 0; status.textContent = "Reconnecting…"; };
      es.addEventListener("next", function (ev) {
        var msg = JSON.parse(ev.data);
        var s = msg.data && msg.data[field];
        if (!s) return;
        var tr = document.createElement("tr");
        tr.className = "new";
        cell(tr, label);
        var a = document.createElement("a");
        a.href = "/console/sessions/" + encodeURIComponent(s.id) + query;
        a.textContent = s.startTime;
        cell(tr, "").appendChild(a);
        cell(tr, s.organization && s.organization.name);
        cell(tr, s.organization && s.organization.server && s.organization.server.name);
        cell(tr, s.type);
        cell(tr, s.initiatedBy);
        cell(tr, s.clientHost && s.clientHost.machineName);
        cell(tr, feed === "ended" ? s.result : "");
        body.insertBefore(tr, body.firstChild);
        while (body.rows.length > 200) body.deleteRow(body.rows.length - 1);
        status.textContent = "Connected: " + body.rows.length + " event(s).";
      });
      es.addEventListener("complete", function () { es.close(); status.textContent = "The stream ended; reload to follow again."; });
    }
    follow("started", "restoreSessionStarted", "started");
    follow("ended", "restoreSessionEnded", "ended");
  }

  // A running session's page follows its events (restoreEventAdded over the same SSE path as
  // the Live page, resumed by position after a reconnect); the subscription completes when the
  // session ends.
  function followSession() {
    var list = document.getElementById("events");
    var url = list && list.getAttribute("data-stream");
    if (!url) return;
    var status = document.getElementById("events-status");
    var es = new EventSource(url);
    es.onerror = function () { if (status) status.textContent = "Reconnecting…"; };
    es.addEventListener("next", function (ev) {
      var msg = JSON.parse(ev.data);
      var e = msg.data && msg.data.restoreEventAdded;
      if (!e) return;
      if (list.querySelector('li[data-order="' + Number(e.order) + '"]')) return; // already shown
      var none = list.querySelector("li.none");
      if (none) none.remove();
      var li = document.createElement("li");
      li.setAttribute("data-order", String(Number(e.order)));
      li.className = "new";
      var t = document.createElement("time");
      t.textContent = e.startTime;
      var b = document.createElement("strong");
      b.textContent = e.type;
      li.appendChild(t);
      li.appendChild(document.createTextNode(" "));
      li.appendChild(b);
      var rest = " " + e.status + " · " + (e.title ? e.title + " · " : "") + (e.message || "") +
        (e.itemName ? " · " + e.itemName : "") + (e.source ? " · from " + e.source : "");
      li.appendChild(document.createTextNode(rest));
      list.appendChild(li);
      if (status) status.textContent = "Running: " + list.querySelectorAll("li").length + " event(s).";
    });
    es.addEventListener("complete", function () {
      es.close();
      if (status) status.textContent = "The session ended; reload for its result.";
    });
  }

  document.addEventListener("DOMContentLoaded", function () { drawDays(); followLive(); followSession(); });
})();
